package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// AgentBinary is the binary that becomes the guest's /init: FAULTLINE_AGENT if
// set, else faultline-agent beside this binary (the agent build, without the
// campaign store: a smaller initramfs), else this binary itself.
func AgentBinary() (string, error) {
	if p := os.Getenv("FAULTLINE_AGENT"); p != "" {
		return p, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate faultline binary for the guest agent: %w", err)
	}
	if a := filepath.Join(filepath.Dir(p), "faultline-agent"); a != p {
		if st, err := os.Stat(a); err == nil && st.Mode().IsRegular() && st.ModTime().After(modTime(p).Add(-time.Minute)) {
			return a, nil
		}
	}
	return p, nil
}

// modTime returns a file's modification time (zero if it cannot be read).
func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
