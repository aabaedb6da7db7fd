package oops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse: any input parses without panic, in bounded time, and every
// report lies inside the log with a title.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/seeds/*.log")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\nCall Trace:\n ? g+0x1/0x2\n"))
	f.Add([]byte("BUG: KASAN: use-after-free in \nRead of size\n"))
	f.Add([]byte("INFO: rcu_sched detected stalls\n</IRQ>\nRIP: 0010:\n"))
	sigs, err := LoadSignatures()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, log []byte) {
		start := time.Now()
		reps := Classify(log, sigs)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Classify took %v on %d bytes", d, len(log))
		}
		n := strings.Count(strings.ReplaceAll(string(log), "\r", ""), "\n") + 1
		for _, r := range reps {
			if r.Title == "" || r.StartLine < 1 || r.EndLine < r.StartLine || r.EndLine > n {
				t.Fatalf("bad report %+v for %d lines", r, n)
			}
		}
	})
}

// BenchmarkClassifyCorpus measures throughput over the labelled corpus:
// MB/s from b.SetBytes, reports/s as a custom metric.
func BenchmarkClassifyCorpus(b *testing.B) {
	cases := loadCorpus(b)
	sigs, _ := LoadSignatures()
	var size int64
	for _, c := range cases {
		size += int64(len(c.log))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	reports := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			reports += len(Classify(c.log, sigs))
		}
	}
	b.ReportMetric(float64(reports)/b.Elapsed().Seconds(), "reports/s")
}

// BenchmarkSplitCorpus is the baseline for BenchmarkClassifyCorpus: only
// splitting the same logs into lines and stripping printk prefixes.
func BenchmarkSplitCorpus(b *testing.B) {
	cases := loadCorpus(b)
	var size int64
	for _, c := range cases {
		size += int64(len(c.log))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			_ = splitLines(c.log)
		}
	}
}
