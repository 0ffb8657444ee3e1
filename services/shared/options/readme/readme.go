// Package readme keeps the option tables in a Markdown file in step with
// the code: the text between "<!-- options:NAME -->" and the next
// "<!-- /options -->" must be the table options.Set.Markdown renders, with
// a blank line before and after.
// A binary's test calls Test to compare (a drift fails with a diff);
// `make docs` runs the same tests with -update-docs to rewrite. Only tests
// import it.
package readme

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/options"
)

// update is the test binary's -update-docs flag, as golden-file packages
// define theirs.
var update = flag.Bool("update-docs", false, "rewrite the option tables in README.md from the code (make docs)")

// Test fails t when the block named name in the Markdown file at path is
// not table, or rewrites the block when the test runs with -update-docs.
func Test(t testing.TB, path, name, table string) {
	t.Helper()
	if err := Sync(path, name, table, *update); err != nil {
		t.Fatal(err)
	}
}

// Markers around a generated table.
const (
	beginMarker = "<!-- options:%s -->\n"
	endMarker   = "<!-- /options -->"
)

// Sync compares the block named name in the Markdown file at path with
// table. With write set it replaces the block instead; otherwise a
// difference is an error showing the diff and how to regenerate.
func Sync(path, name, table string, write bool) error {
	doc, err := os.ReadFile(path) //nolint:gosec // G304: a path the test names
	if err != nil {
		return err
	}
	begin := []byte(fmt.Sprintf(beginMarker, name))
	i := bytes.Index(doc, begin)
	if i < 0 {
		return fmt.Errorf("readme: %s has no %q marker; add it and the %q end marker where the table belongs, then run `make docs`", path, bytes.TrimSpace(begin), endMarker)
	}
	start := i + len(begin)
	n := bytes.Index(doc[start:], []byte(endMarker))
	if n < 0 {
		return fmt.Errorf("readme: %s: no %q after %q", path, endMarker, bytes.TrimSpace(begin))
	}
	// Blank lines around the table keep the markers out of it.
	table = "\n" + table + "\n"
	got := string(doc[start : start+n])
	if got == table {
		return nil
	}
	if !write {
		return fmt.Errorf("readme: the %s option table in %s is not what the code says; run `make docs` (-want from code +got in file):\n%s",
			name, path, cmp.Diff(splitLines(table), splitLines(got)))
	}
	var out bytes.Buffer
	out.Write(doc[:start])
	out.WriteString(table)
	out.Write(doc[start+n:])
	return os.WriteFile(path, out.Bytes(), 0o644) //nolint:gosec // G306: a tracked documentation file
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

// TestVariables fails t for every match of pattern (a variable name
// pattern such as `AUTHPROXY_[A-Z0-9_]+`) in the files the globs name that
// is not an environment variable of set (nor its --config variable), so a
// chart or doc cannot go on setting a variable nobody reads. It fails too
// when nothing matches: the files have moved.
func TestVariables(t testing.TB, set options.Set, pattern string, globs ...string) {
	t.Helper()
	known := map[string]bool{}
	if set.ConfigFile {
		known[set.EnvPrefix+"CONFIG"] = true
	}
	for _, o := range set.Options {
		known[set.EnvVar(o)] = true
	}
	re := regexp.MustCompile(pattern)
	seen := 0
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil || len(files) == 0 {
			t.Fatalf("readme: %s names no file (%v)", g, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f) //nolint:gosec // G304: a path the test names
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range re.FindAllString(string(b), -1) {
				seen++
				if !known[v] {
					t.Errorf("%s names %s, which %s does not read", f, v, set.Program)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatalf("readme: no %s in %v: did the files move?", pattern, globs)
	}
}
