// Package oops turns guest console logs into crash reports: it finds each
// oops, gives it a syzbot-style title, a type and a guilty frame, flags
// reports whose stack cannot be trusted, and matches reports against known
// bug signatures. It knows nothing of VMs: its input is console text.
package oops

import "strconv"

var printkTimeRE = lazy(`^(?:<\d+>)?\[\s*(\d+\.\d+)\]`)

// ReportTime returns the printk timestamp (seconds since boot) of the first
// line of a report's text, or -1 if it has none.
func ReportTime(report string) float64 {
	m := printkTimeRE.FindStringSubmatch(report)
	if m == nil {
		return -1
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return f
}
