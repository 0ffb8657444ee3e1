package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr string
	}{
		{
			name: "dynamic program",
			out: "\tlinux-vdso.so.1 (0x00007ffd)\n" +
				"\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f76)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f75)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007f74)\n",
			want: []string{"/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{name: "static program", out: "\tstatically linked\n", want: nil},
		{
			name:    "missing library",
			out:     "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\tlibfoo.so.1 => not found\n\tlibbar.so.2 => not found\n",
			wantErr: "not found: libfoo.so.1, libbar.so.2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseList(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("libraries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWithSharedLibsAddsNothing covers files that need no loader: a static Go program and a file
// that is not ELF.
func TestWithSharedLibsAddsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := gobuild.Build(t.Context(), gobuild.Options{Dir: "..", Out: dir, Static: true}, "./cmd/pause"); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "pause")
	script := writeFile(t, dir, "run.sh", "#!/bin/sh\n", 0o755)

	tests := []struct {
		name string
		file string
	}{
		{name: "static Go program", file: static},
		{name: "shell script", file: script},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := Binary("x.local/a:1", tt.file, "/a")
			got, err := WithSharedLibs(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(spec, got); diff != "" {
				t.Errorf("spec changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedisImageRuns packs Debian's redis-server with its libraries, unpacks the image into a
// temporary folder and runs redis-server from there with the packed loader and libraries only.
func TestRedisImageRuns(t *testing.T) {
	t.Parallel()
	const redis = "/usr/bin/redis-server"
	if _, err := os.Stat(redis); err != nil {
		t.Skipf("no %s (apt-get install redis-server): %v", redis, err)
	}
	loader, err := interpreter(redis)
	if err != nil || loader == "" {
		t.Fatalf("interpreter(%s) = %q, %v; want the loader of a dynamic program", redis, loader, err)
	}
	ctx := context.Background()
	spec, err := WithSharedLibs(ctx, Binary("gatewarden.local/redis:dev", redis, redis))
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Files) < 3 {
		t.Fatalf("WithSharedLibs listed %d files, want redis-server, the loader and libc at least: %+v", len(spec.Files), spec.Files)
	}
	tarPath := filepath.Join(t.TempDir(), "redis.tar")
	if err := Build(spec, tarPath); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extract(t, readImage(t, tarPath, spec.Ref), root)

	libDirs := map[string]bool{}
	for _, f := range spec.Files[1:] {
		libDirs[filepath.Join(root, filepath.Dir(f.Path))] = true
	}
	var libraryPath []string
	for d := range libDirs {
		libraryPath = append(libraryPath, d)
	}
	run := func(args ...string) string {
		t.Helper()
		argv := append([]string{"--inhibit-cache", "--library-path", strings.Join(libraryPath, ":")}, args...)
		cmd := exec.CommandContext(ctx, filepath.Join(root, loader), argv...)
		cmd.Env = []string{} // no LD_LIBRARY_PATH or LD_PRELOAD from the host
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", cmd.Path, argv, err, out)
		}
		return string(out)
	}
	// Every library the packed program loads comes from the unpacked image.
	libs, err := parseList(run("--list", filepath.Join(root, redis)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("redis-server loads %v", libs)
	for _, lib := range libs {
		if !strings.HasPrefix(lib, root+"/") {
			t.Errorf("redis-server loads %s from outside the image", lib)
		}
	}
	if out := run(filepath.Join(root, redis), "--version"); !strings.Contains(out, "Redis server v=") {
		t.Errorf("redis-server --version printed %q, want a Redis version", out)
	}
}
