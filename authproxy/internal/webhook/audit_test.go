package webhook_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestAuditLines: an event that ends a user's sessions and a refused
// delivery each write one audit line, even with the logger at error level.
func TestAuditLines(t *testing.T) {
	t.Parallel()
	body := event("e-audit", webhook.TypeUserDeactivate, map[string]any{"user": map[string]any{"id": "u1"}})
	none := event("e-none", webhook.TypeUserDeactivate, map[string]any{"user": map[string]any{"id": "u9"}})
	app := event("e-app", webhook.TypeRefreshTokenRevoke, map[string]any{"applicationId": clientID})
	for _, tt := range []struct {
		name string
		body []byte
		sig  string
		want map[string]any
	}{
		{
			name: "revocation", body: body, sig: sign(t, body),
			want: map[string]any{"event": "sessions_revoked", "source": "webhook", "subject": "u1", "sessions_ended": float64(2),
				"webhook_event_id": "e-audit", "webhook_event_type": webhook.TypeUserDeactivate},
		},
		{
			name: "revocation ending no session", body: none, sig: sign(t, none),
			want: map[string]any{"event": "tokens_revoked", "source": "webhook", "subject": "u9", "sessions_ended": float64(0),
				"webhook_event_id": "e-none", "webhook_event_type": webhook.TypeUserDeactivate},
		},
		{
			name: "application-wide revocation", body: app, sig: sign(t, app),
			want: map[string]any{"event": "sessions_revoked", "source": "webhook", "scope": "application",
				"cutoff":           clock().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
				"webhook_event_id": "e-app", "webhook_event_type": webhook.TypeRefreshTokenRevoke},
		},
		{
			name: "refused", body: body, sig: "",
			want: map[string]any{"event": "webhook_refused", "status": float64(401),
				"reason": "missing or invalid signature", "peer": "192.0.2.1"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.LogBuffer
			st := &store{marks: map[string]bool{}}
			h, err := webhook.New(webhook.Config{
				Sessions: st, Marks: st, Keys: keys{}, Application: &application{}, ClientID: clientID, Now: clock,
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError})),
			})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/webhooks/fusionauth", strings.NewReader(string(tt.body)))
			r.Header.Set("Content-Type", "application/json")
			if tt.sig != "" {
				r.Header.Set(webhook.SignatureHeader, tt.sig)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			var got []map[string]any
			for line := range strings.Lines(logs.String()) {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if m["log"] != "audit" {
					continue
				}
				for _, k := range []string{"time", "level", "msg", "log"} {
					delete(m, k)
				}
				got = append(got, m)
			}
			if d := gocmp.Diff([]map[string]any{tt.want}, got); d != "" {
				t.Errorf("audit lines (-want +got):\n%s\nall logs:\n%s", d, logs.String())
			}
		})
	}
}
