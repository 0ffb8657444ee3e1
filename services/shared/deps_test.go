// Package shared_test checks the dependency rule of the shared libraries
// under services/shared, as the README's repository layout states it: a
// shared package imports the standard library, net/http and the libraries
// chosen for it (Prometheus, golang-jwt), never gin; only the gin adapters
// (a "gin" in the package's name: ginkit, jwtauth/ginjwt) import gin; and
// authproxy, which serves with net/http only, links none of gin or what gin
// brings along (validator, bson, quic-go).
package shared_test

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/gatewarden/gatewarden"

// forbidden are the import path prefixes of gin and its dependencies.
var forbidden = []string{
	"github.com/gin-gonic/",
	"github.com/go-playground/validator",
	"go.mongodb.org/mongo-driver",
	"github.com/quic-go/",
}

func TestDependencyRule(t *testing.T) {
	t.Parallel()
	// go test puts its own go first on PATH.
	out, err := exec.CommandContext(t.Context(), "go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`,
		module+"/authproxy", module+"/services/shared/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		deps := strings.Fields(line)
		pkg := deps[0]
		if strings.Contains(path.Base(pkg), "gin") {
			continue // an adapter: gin is what it is for
		}
		checked[pkg] = true
		for _, f := range forbidden {
			for _, dep := range deps[1:] {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
					break // one line per package and forbidden module
				}
			}
		}
	}
	for _, pkg := range []string{"authproxy", "services/shared/httpkit", "services/shared/jwtauth", "services/shared/lru"} {
		if !checked[module+"/"+pkg] {
			t.Errorf("%s was not checked (go list printed %d lines)", pkg, strings.Count(string(out), "\n"))
		}
	}
}
