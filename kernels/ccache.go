package kernels

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ccacheSize caps faultline's compiler cache: about four full harness
// builds with debug info.
const ccacheSize = "8G"

// compilerCache is ccache as the builder uses it: its own directory in
// faultline's cache, paths relative to the tree (so a fresh tree of the same
// recipe hits), and counters read before and after a build.
type compilerCache struct {
	bin string
	dir string
}

// findCCache returns the compiler cache when ccache is installed and not
// switched off.
func (b *Builder) findCCache() *compilerCache {
	if b.NoCCache {
		return nil
	}
	bin, err := exec.LookPath("ccache")
	if err != nil {
		return nil
	}
	dir := b.CCacheDir
	if dir == "" {
		dir = filepath.Join(b.Cache, "ccache")
	}
	return &compilerCache{bin: bin, dir: dir}
}

// env is the environment make runs with: the cache's directory and the
// settings that make hits independent of the tree's absolute path.
func (c *compilerCache) env(srcDir string) []string {
	return []string{
		"CCACHE_DIR=" + c.dir,
		"CCACHE_BASEDIR=" + srcDir,
		"CCACHE_NOHASHDIR=1",
		"CCACHE_MAXSIZE=" + ccacheSize,
		// The kernel embeds no __DATE__/__TIME__ outside init/version.c,
		// which make rebuilds anyway.
		"CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime",
		// Depend mode: on a miss, take the includes from the compiler's
		// own dependency file (Kbuild always asks for one) instead of
		// running the preprocessor a second time. A cold build through
		// ccache cost 15% more CPU without it (kernel/sched/core.c: 4.0 s
		// against 3.4 s without ccache; 3.4 s with depend mode).
		"CCACHE_DEPEND=1",
	}
}

// CacheStats are a build's compiler-cache counters.
type CacheStats struct {
	// Hits and Misses count compilations served from and added to the cache.
	Hits, Misses int
}

// HitRate is Hits over all cacheable compilations (0 when there were none).
func (s CacheStats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// counters reads the cache's hit and miss counters (zero when unreadable).
func (c *compilerCache) counters() CacheStats {
	cmd := exec.Command(c.bin, "--print-stats")
	cmd.Env = append(os.Environ(), "CCACHE_DIR="+c.dir)
	out, err := cmd.Output()
	if err != nil {
		return CacheStats{}
	}
	return parseCCacheStats(out)
}

// parseCCacheStats reads ccache --print-stats output (name TAB value).
func parseCCacheStats(out []byte) CacheStats {
	var s CacheStats
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSpace(val))
		switch name {
		case "direct_cache_hit", "preprocessed_cache_hit":
			s.Hits += n
		case "cache_miss":
			s.Misses += n
		}
	}
	return s
}

// since is the difference between two readings.
func (s CacheStats) since(before CacheStats) CacheStats {
	return CacheStats{Hits: s.Hits - before.Hits, Misses: s.Misses - before.Misses}
}
