package probes

import (
	"strings"
	"testing"
)

func TestKmsgLines(t *testing.T) {
	mk := func(spec string, hits, fired, met, skips uint64) Report {
		inj, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return Report{Injection: inj, Attached: true, Hits: hits, Fired: fired, UntilMet: met, BudgetSkips: skips}
	}
	indexes := func(lines []string) string {
		var got []string
		for _, l := range lines {
			f := strings.Fields(strings.TrimPrefix(l, KmsgPrefix))
			got = append(got, f[0])
		}
		return strings.Join(got, ",")
	}
	if anyInjecting([]Report{mk("count:f", 1, 1, 0, 0), mk("count:g", 0, 0, 0, 0)}) {
		t.Error("a set of counts alone has nothing to check between snapshots")
	}
	last := map[int]Report{}
	reps := []Report{
		mk("count:f", 5, 5, 0, 0),
		mk("delay:g:1ms", 3, 0, 0, 0),
		mk("delay:h:1ms,until-in=f", 2, 2, 0, 0),
		mk("fail-return:k:ENOMEM", 1, 1, 0, 0),
	}
	if !anyInjecting(reps) {
		t.Error("a set with delays and a fail-return has something to check")
	}
	// Between snapshots: only the delay and fail injections that fired;
	// not the count (it changes at every hit), not the one that never fired.
	if got := indexes(kmsgLines(last, reps, false)); got != "2,3" {
		t.Errorf("first check wrote %q, want 2,3", got)
	}
	if got := indexes(kmsgLines(last, reps, false)); got != "" {
		t.Errorf("nothing changed, yet wrote %q", got)
	}
	// Hits alone (filtered calls) are no news; met and budget skips are.
	reps[1] = mk("delay:g:1ms", 90, 0, 0, 0)
	reps[2] = mk("delay:h:1ms,until-in=f", 9, 2, 1, 0)
	reps[3] = mk("fail-return:k:ENOMEM", 4, 1, 0, 3)
	reps[0] = mk("count:f", 50, 50, 0, 0)
	if got := indexes(kmsgLines(last, reps, false)); got != "2,3" {
		t.Errorf("after met and skips wrote %q, want 2,3", got)
	}
	// The snapshot writes every line, and its lines parse back.
	lines := kmsgLines(last, reps, true)
	if got := indexes(lines); got != "0,1,2,3" {
		t.Errorf("snapshot wrote %q, want 0,1,2,3", got)
	}
	back := ReportsFromLog([]byte(strings.Join(lines, "\n")))
	if len(back) != 4 || back[2].UntilMet != 1 || back[3].BudgetSkips != 3 || back[0].Hits != 50 {
		t.Errorf("lines read back as %+v", back)
	}
}
