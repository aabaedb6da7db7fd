//go:build !faultline_agent

// Package results is faultline's record of campaigns: the SQLite store
// (campaigns, planned runs, every attempt with its verdict, reports,
// counters and integrity, and a crash index per kernel) and what is made
// from it: the summary table, JSON, JUnit XML and the HTML report. It does
// not run anything and knows nothing of VMs.
package results
