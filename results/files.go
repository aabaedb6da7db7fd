//go:build !faultline_agent

package results

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// OpenExisting opens the store of the campaign in dir; a directory with no
// store is an error wrapping ErrNoCampaign (nothing is created).
func OpenExisting(dir string) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, StoreFile)); err != nil {
		return nil, fmt.Errorf("%w: %s holds no %s: give the directory a faultline run wrote (its --out)", ErrNoCampaign, dir, StoreFile)
	}
	return OpenStore(dir)
}

// Summary loads the store's campaign and returns its summary and every
// recorded run.
func (s *Store) Summary() (*Summary, []*Run, error) {
	camp, _, plan, err := s.Load()
	if err != nil {
		return nil, nil, err
	}
	runs, err := s.Runs(camp.ID)
	if err != nil {
		return nil, nil, err
	}
	return Summarize(camp, plan, runs), runs, nil
}

// WriteReport writes DIR/report.html for the store's campaign and returns
// its path. The page is written beside and renamed into place: a failed
// write never leaves half a report.
func (s *Store) WriteReport(sum *Summary, runs []*Run) (string, error) {
	crashes, err := s.Crashes()
	if err != nil {
		return "", err
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Index < runs[j].Index })
	path := filepath.Join(s.Dir, "report.html")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if err := WriteHTML(f, sum, runs, crashes); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// WriteJUnitFile writes the runs as JUnit XML to path.
func WriteJUnitFile(path, name string, runs []*Run) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteJUnit(f, name, runs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
