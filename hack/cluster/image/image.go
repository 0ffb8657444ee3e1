// Package image builds container image tarballs without Docker, for the single-node test cluster:
// an image is an empty base, one layer holding the files a Spec lists, and a config (entrypoint,
// user, environment, working directory). Build writes it as a Docker-style tarball tagged with the
// Spec's reference, which `ctr images import` (Import) loads into containerd. Binary makes the Spec
// of a static Go program; WithSharedLibs adds the loader and shared libraries a dynamically linked
// host program (Debian's redis-server) needs.
package image

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultUser is the user a Spec without one runs as: the distroless "nonroot" user and group.
const DefaultUser = "65532:65532"

// File is one entry of an image's layer.
type File struct {
	// Src is the host file copied into the image (symbolic links are followed). Empty with a
	// directory Mode makes an empty directory.
	Src string
	// Path is the absolute path in the image.
	Path string
	// Mode is the entry's mode; zero takes the permission bits of Src. Parent directories that no
	// File lists are 0755. Every entry is owned by 0:0.
	Mode fs.FileMode
}

// Spec describes an image.
type Spec struct {
	// Ref is the image's tag, e.g. gatewarden.local/authproxy:dev.
	Ref string
	// Files make the image's only layer.
	Files []File
	// Entrypoint, Cmd, Env (KEY=value) and WorkingDir go to the image config as they are.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// User is "uid:gid" or "uid"; empty means DefaultUser (use "0:0" for root).
	User string
}

// Binary is the Spec of an image holding one static program at inImagePath, its entrypoint.
func Binary(ref, hostBinary, inImagePath string) Spec {
	return Spec{
		Ref:        ref,
		Files:      []File{{Src: hostBinary, Path: inImagePath, Mode: 0o755}},
		Entrypoint: []string{inImagePath},
	}
}

// Build writes the image spec describes to tarPath (a Docker-style tarball with one tag). The
// file appears complete or not at all.
func Build(spec Spec, tarPath string) error {
	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		return fmt.Errorf("image: reference %q: %w", spec.Ref, err)
	}
	layerPath, err := writeLayer(spec.Files, filepath.Dir(tarPath))
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	defer os.Remove(layerPath)
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return fmt.Errorf("image %s: layer: %w", spec.Ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("image %s: append layer: %w", spec.Ref, err)
	}
	user := spec.User
	if user == "" {
		user = DefaultUser
	}
	cfg, err := img.ConfigFile() // holds the layer's diff ID
	if err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Config = v1.Config{
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		WorkingDir: spec.WorkingDir,
		User:       user,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	tmp := tarPath + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("image %s: write %s: %w", spec.Ref, tarPath, err)
	}
	if err := os.Rename(tmp, tarPath); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	return nil
}

// writeLayer writes the uncompressed layer tar of files to a temporary file in dir and returns
// its path. Entries are sorted by path, parents first.
func writeLayer(files []File, dir string) (layerPath string, err error) {
	entries, err := layerEntries(files)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".layer-*.tar")
	if err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("layer: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		if err := e.write(tw); err != nil {
			return "", fmt.Errorf("layer: %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}
	return f.Name(), nil
}

// entry is one tar entry: a directory (src empty) or a regular file copied from src.
type entry struct {
	name string // relative, clean; directories end in "/"
	src  string
	mode fs.FileMode
}

func (e entry) write(tw *tar.Writer) error {
	// Every entry is dated 1970, so the same inputs give the same layer.
	hdr := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if e.src == "" {
		hdr.Typeflag = tar.TypeDir
		return tw.WriteHeader(hdr)
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", e.src)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return err
	}
	if n != info.Size() {
		return fmt.Errorf("%s changed while read", e.src)
	}
	return nil
}

// layerEntries checks files and returns their entries plus the missing parent directories.
func layerEntries(files []File) ([]entry, error) {
	byName := map[string]entry{}
	var errs []error
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			errs = append(errs, fmt.Errorf("path %q: want an absolute, clean path below /", f.Path))
			continue
		}
		e := entry{name: strings.TrimPrefix(f.Path, "/"), src: f.Src, mode: f.Mode}
		switch {
		case f.Src == "" && f.Mode.IsDir():
			e.name += "/"
		case f.Src == "":
			errs = append(errs, fmt.Errorf("path %q: no source file (only a directory Mode needs none)", f.Path))
			continue
		case f.Mode == 0:
			info, err := os.Stat(f.Src)
			if err != nil {
				errs = append(errs, fmt.Errorf("path %q: %w", f.Path, err))
				continue
			}
			e.mode = info.Mode().Perm()
		}
		if _, dup := byName[strings.TrimSuffix(e.name, "/")]; dup {
			errs = append(errs, fmt.Errorf("path %q: listed twice", f.Path))
			continue
		}
		byName[strings.TrimSuffix(e.name, "/")] = e
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for key := range byName {
		for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
			parent, ok := byName[dir]
			switch {
			case !ok:
				byName[dir] = entry{name: dir + "/", mode: fs.ModeDir | 0o755}
			case parent.src != "":
				errs = append(errs, fmt.Errorf("path %q: /%s is a file", "/"+key, dir))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}
