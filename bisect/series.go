package bisect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"faultline/kernels"
	"faultline/series"
)

// SeriesKernels turns a patch series on a base build spec into the kernels
// a bisection walks: point k is the base plus the series' first k patches
// (0: the base alone), each a build spec file in dir named after its last
// patch (dir/series/0002-btrfs-....yaml), the patches copied beside them.
// Each is built when its step runs, in the base's persistent tree: a switch
// of a patch or a few.
func SeriesKernels(baseSpec, seriesArg, dir string) ([]string, *series.Series, error) {
	if !kernels.IsBuildSpec(baseSpec) {
		return nil, nil, fmt.Errorf("%w: --base %q is not a build spec (a shipped one such as 6.1-harness, or FILE.yaml)", ErrInput, baseSpec)
	}
	base, err := kernels.LoadBuildSpec(baseSpec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	ser, err := series.Load(seriesArg)
	if err != nil {
		return nil, nil, err
	}
	sdir, err := filepath.Abs(filepath.Join(dir, "series"))
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, nil, err
	}
	var patches, specs []string
	for k := 0; k <= len(ser.Patches); k++ {
		name, file := base.Name, "0000-base.yaml"
		if k > 0 {
			p := ser.Patches[k-1]
			path := filepath.Join(sdir, p.Name)
			if err := os.WriteFile(path, p.Content, 0o644); err != nil {
				return nil, nil, err
			}
			patches = append(patches, path)
			name = fmt.Sprintf("%s+%s-%d", base.Name, ser.Hash[:8], k)
			file = strings.TrimSuffix(p.Name, ".patch") + ".yaml"
		}
		desc := fmt.Sprintf("%s with the first %d of %d patches of %s", base.Name, k, len(ser.Patches), ser.Source)
		text, err := base.Derive(name, desc, patches)
		if err != nil {
			return nil, nil, err
		}
		path := filepath.Join(sdir, file)
		if err := os.WriteFile(path, text, 0o644); err != nil {
			return nil, nil, err
		}
		specs = append(specs, path)
	}
	return specs, ser, nil
}
