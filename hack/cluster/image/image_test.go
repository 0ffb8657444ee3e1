package image

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarEntry is what a test checks of one layer entry.
type tarEntry struct {
	Name    string
	Dir     bool
	Mode    fs.FileMode
	Content string
}

func TestBuild(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	app := writeFile(t, src, "app", "#!app", 0o700)
	conf := writeFile(t, src, "conf.yaml", "a: 1", 0o640)

	tests := []struct {
		name        string
		spec        Spec
		wantEntries []tarEntry
		wantConfig  v1.Config
	}{
		{
			name: "binary",
			spec: Binary("gatewarden.local/authproxy:dev", app, "/usr/local/bin/authproxy"),
			wantEntries: []tarEntry{
				{Name: "usr/", Dir: true, Mode: 0o755},
				{Name: "usr/local/", Dir: true, Mode: 0o755},
				{Name: "usr/local/bin/", Dir: true, Mode: 0o755},
				{Name: "usr/local/bin/authproxy", Mode: 0o755, Content: "#!app"},
			},
			wantConfig: v1.Config{Entrypoint: []string{"/usr/local/bin/authproxy"}, User: DefaultUser},
		},
		{
			name: "files, directory and full config",
			spec: Spec{
				Ref: "gatewarden.local/catalog:v1",
				Files: []File{
					{Src: conf, Path: "/etc/catalog/conf.yaml"},              // host mode
					{Src: app, Path: "/catalog", Mode: 0o555},                // explicit mode
					{Path: "/data", Mode: fs.ModeDir | 0o770},                // empty directory
					{Src: conf, Path: "/etc/catalog/copy.yaml", Mode: 0o444}, // same source twice
				},
				Entrypoint: []string{"/catalog"},
				Cmd:        []string{"--listen=:8080"},
				Env:        []string{"A=1", "PATH=/"},
				WorkingDir: "/data",
				User:       "0:0",
			},
			wantEntries: []tarEntry{
				{Name: "catalog", Mode: 0o555, Content: "#!app"},
				{Name: "data/", Dir: true, Mode: 0o770},
				{Name: "etc/", Dir: true, Mode: 0o755},
				{Name: "etc/catalog/", Dir: true, Mode: 0o755},
				{Name: "etc/catalog/conf.yaml", Mode: 0o640, Content: "a: 1"},
				{Name: "etc/catalog/copy.yaml", Mode: 0o444, Content: "a: 1"},
			},
			wantConfig: v1.Config{
				Entrypoint: []string{"/catalog"},
				Cmd:        []string{"--listen=:8080"},
				Env:        []string{"A=1", "PATH=/"},
				WorkingDir: "/data",
				User:       "0:0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tarPath := filepath.Join(t.TempDir(), "image.tar")
			if err := Build(tt.spec, tarPath); err != nil {
				t.Fatalf("Build: %v", err)
			}
			img := readImage(t, tarPath, tt.spec.Ref)

			layers, err := img.Layers()
			if err != nil {
				t.Fatalf("Layers: %v", err)
			}
			if len(layers) != 1 {
				t.Fatalf("got %d layers, want 1", len(layers))
			}
			if diff := cmp.Diff(tt.wantEntries, layerEntriesOf(t, layers[0])); diff != "" {
				t.Errorf("layer entries (-want +got):\n%s", diff)
			}

			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatalf("ConfigFile: %v", err)
			}
			if cfg.OS != "linux" || cfg.Architecture == "" {
				t.Errorf("platform = %s/%s, want linux/<arch>", cfg.OS, cfg.Architecture)
			}
			if diff := cmp.Diff(tt.wantConfig, cfg.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			again := filepath.Join(t.TempDir(), "again.tar")
			if err := Build(tt.spec, again); err != nil {
				t.Fatalf("Build again: %v", err)
			}
			if want, got := digest(t, img), digest(t, readImage(t, again, tt.spec.Ref)); got != want {
				t.Errorf("same spec built twice: digests %s and %s, want them equal", want, got)
			}
			if _, err := os.Stat(tarPath + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("temporary tarball left behind: %v", err)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(tarPath), ".layer-*")); len(leftovers) > 0 {
				t.Errorf("temporary layers left behind: %v", leftovers)
			}
		})
	}
}

func TestBuildRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	app := writeFile(t, src, "app", "x", 0o755)

	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{name: "bad reference", spec: Spec{Ref: "Not A Ref"}, wantErr: "reference"},
		{name: "relative path", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: app, Path: "bin/app"}}}, wantErr: "absolute"},
		{name: "unclean path", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: app, Path: "/bin/../app"}}}, wantErr: "clean"},
		{name: "root", spec: Spec{Ref: "x.local/a:1", Files: []File{{Path: "/", Mode: fs.ModeDir}}}, wantErr: "below /"},
		{name: "listed twice", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: app, Path: "/app"}, {Src: app, Path: "/app"}}}, wantErr: "twice"},
		{name: "missing source", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: filepath.Join(src, "nope"), Path: "/app"}}}, wantErr: "no such file"},
		{name: "no source", spec: Spec{Ref: "x.local/a:1", Files: []File{{Path: "/app"}}}, wantErr: "no source"},
		{name: "file as parent", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: app, Path: "/app"}, {Src: app, Path: "/app/x"}}}, wantErr: "is a file"},
		{name: "directory as source", spec: Spec{Ref: "x.local/a:1", Files: []File{{Src: src, Path: "/app", Mode: 0o755}}}, wantErr: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			err := Build(tt.spec, filepath.Join(dir, "image.tar"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build error = %v, want one containing %q", err, tt.wantErr)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("files left behind after a failed build: %v", left)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

// readImage loads the image tagged ref from a tarball, failing if the tag is not there.
func readImage(t *testing.T, tarPath, ref string) v1.Image {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("read %s back as %s: %v", tarPath, ref, err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func layerEntriesOf(t *testing.T, layer v1.Layer) []tarEntry {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []tarEntry
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", hdr.Name, hdr.Uid, hdr.Gid)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tarEntry{Name: hdr.Name, Dir: hdr.Typeflag == tar.TypeDir, Mode: fs.FileMode(hdr.Mode), Content: string(b)})
	}
}

// extract writes the image's file system under dir, as a container runtime would unpack it.
func extract(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, fs.FileMode(hdr.Mode))
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, fs.FileMode(hdr.Mode))
			}
		default:
			t.Fatalf("%s: unexpected entry type %c", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
