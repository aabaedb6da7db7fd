package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Filesystems are the scratch filesystems faultline can make.
var Filesystems = []string{"btrfs", "ext4"}

// MakeScratch creates a sparse raw image of size bytes at path and makes a
// filesystem of type fs on it with the extra mkfs options.
func MakeScratch(path, fs string, size int64, mkfsOpts []string) error {
	var tool Tool
	var args []string
	switch fs {
	case "btrfs":
		tool, args = ToolMkfsBtrf, []string{"-q", "-f"}
	case "ext4":
		tool, args = ToolMkfsExt4, []string{"-q", "-F"}
	default:
		return fmt.Errorf("unknown filesystem %q: want one of %s", fs, strings.Join(Filesystems, ", "))
	}
	mkfs, err := tool.Find()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create scratch image: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("size scratch image: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create scratch image: %w", err)
	}
	args = append(append(args, mkfsOpts...), path)
	if out, err := exec.Command(mkfs, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", tool.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
