package image

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// WithSharedLibs returns spec with the program loader and the shared libraries of every
// dynamically linked ELF file in spec.Files added at the paths the host's loader finds them at,
// so the programs run in a container as they run on the host. Static programs and files that are
// not ELF add nothing. Libraries are resolved by the host's loader (`LOADER --list PROGRAM`, what
// ldd does), so they are the ones the program uses on the host; use it for trusted host programs
// only, as ldd.
func WithSharedLibs(ctx context.Context, spec Spec) (Spec, error) {
	listed := map[string]bool{}
	for _, f := range spec.Files {
		listed[f.Path] = true
	}
	files := append([]File(nil), spec.Files...)
	for _, f := range spec.Files {
		if f.Src == "" {
			continue
		}
		loader, err := interpreter(f.Src)
		if err != nil {
			return Spec{}, fmt.Errorf("image %s: shared libraries of %s: %w", spec.Ref, f.Src, err)
		}
		if loader == "" {
			continue
		}
		out, err := exec.CommandContext(ctx, loader, "--list", f.Src).Output()
		if err != nil {
			return Spec{}, fmt.Errorf("image %s: %s --list %s: %w", spec.Ref, loader, f.Src, withStderr(err))
		}
		libs, err := parseList(string(out))
		if err != nil {
			return Spec{}, fmt.Errorf("image %s: shared libraries of %s: %w", spec.Ref, f.Src, err)
		}
		for _, lib := range append([]string{loader}, libs...) {
			if !listed[lib] {
				listed[lib] = true
				files = append(files, File{Src: lib, Path: lib})
			}
		}
	}
	spec.Files = files
	return spec, nil
}

// interpreter returns the program loader an ELF file asks for (its PT_INTERP), or "" for a static
// program or a file that is not ELF.
func interpreter(file string) (string, error) {
	r, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer r.Close()
	magic := make([]byte, len(elf.ELFMAG))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != elf.ELFMAG {
		return "", nil //nolint:nilerr // shorter than an ELF header: not ELF
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return "", err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("read PT_INTERP: %w", err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// parseList returns the library paths in the loader's --list (ldd) output, the loader's own line
// included, in order. The vDSO, which has no file, is skipped; a library not found is an error.
func parseList(out string) ([]string, error) {
	var libs, missing []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if before, after, ok := strings.Cut(line, "=>"); ok {
			if strings.TrimSpace(after) == "not found" {
				missing = append(missing, strings.TrimSpace(before))
				continue
			}
			line = strings.TrimSpace(after)
		}
		file, _, _ := strings.Cut(line, " (")
		if strings.HasPrefix(file, "/") {
			libs = append(libs, file)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not found: %s", strings.Join(missing, ", "))
	}
	return libs, sc.Err()
}

// withStderr adds a failed command's standard error to its error.
func withStderr(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
	}
	return err
}
