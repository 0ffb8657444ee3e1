package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestRevokeAudit: a revocation writes one audit line naming the operator's
// command as its source, the user and the sessions ended; a list writes none.
func TestRevokeAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var logs testkit.LogBuffer
	env := Env{
		Getenv: func(k string) string { return f.env[k] }, Stdout: io.Discard, Stderr: io.Discard, Now: f.clock.Now,
		Audit: slog.New(slog.NewJSONHandler(&logs, nil)),
	}
	if code := Sessions(t.Context(), []string{"list", "--user", "bob"}, env); code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	if code := Sessions(t.Context(), []string{"revoke", "--user", "bob", "--all"}, env); code != 0 {
		t.Fatalf("revoke: exit %d", code)
	}
	var got []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		delete(m, "time")
		got = append(got, m)
	}
	want := []map[string]any{{
		"level": "INFO", "msg": "audit", "log": "audit", "event": "sessions_revoked",
		"source": "admin", "subject": "bob", "sessions": []any{f.b1},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit lines (-want +got):\n%s", d)
	}
}
