package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := httptest.NewRequest("POST", "/x", nil) // RemoteAddr 192.0.2.1:1234
	for _, tt := range []struct {
		name string
		log  func(l *slog.Logger)
		want map[string]any
	}{
		{name: "login", log: func(l *slog.Logger) { audit.Login(ctx, l, "u1", "sid1") },
			want: map[string]any{"event": "login", "subject": "u1", "sid": "sid1"}},
		{name: "login failed", log: func(l *slog.Logger) { audit.LoginFailed(ctx, l, "state_unknown") },
			want: map[string]any{"event": "login_failed", "reason": "state_unknown"}},
		{name: "logout", log: func(l *slog.Logger) { audit.Logout(ctx, l, "u1", "sid1", nil) },
			want: map[string]any{"event": "logout", "subject": "u1", "sid": "sid1", "result": "ok"}},
		{name: "logout store error", log: func(l *slog.Logger) { audit.Logout(ctx, l, "u1", "sid1", errors.New("down")) },
			want: map[string]any{"event": "logout", "subject": "u1", "sid": "sid1", "result": "store_error"}},
		{name: "admin revoke", log: func(l *slog.Logger) { audit.AdminRevoked(ctx, l, "u1", []string{"a", "b"}) },
			want: map[string]any{"event": "sessions_revoked", "source": "admin", "subject": "u1", "sessions": []any{"a", "b"}}},
		{name: "webhook revoke", log: func(l *slog.Logger) { audit.WebhookRevoked(ctx, l, "u1", 2, "e1", "user.delete") },
			want: map[string]any{"event": "sessions_revoked", "source": "webhook", "subject": "u1", "sessions_ended": float64(2), "webhook_event_id": "e1", "webhook_event_type": "user.delete"}},
		{name: "webhook revoke ending nothing", log: func(l *slog.Logger) { audit.WebhookRevoked(ctx, l, "u1", 0, "e1", "user.delete") },
			want: map[string]any{"event": "tokens_revoked", "source": "webhook", "subject": "u1", "sessions_ended": float64(0), "webhook_event_id": "e1", "webhook_event_type": "user.delete"}},
		{name: "application-wide revoke", log: func(l *slog.Logger) {
			audit.WebhookApplicationRevoked(ctx, l, time.UnixMilli(1700000000123), "e2", "jwt.refresh-token.revoke")
		}, want: map[string]any{"event": "sessions_revoked", "source": "webhook", "scope": "application", "cutoff": "2023-11-14T22:13:20.123Z", "webhook_event_id": "e2", "webhook_event_type": "jwt.refresh-token.revoke"}},
		{name: "back-channel logout", log: func(l *slog.Logger) { audit.BackChannelRevoked(ctx, l, "u1", 1) },
			want: map[string]any{"event": "sessions_revoked", "source": "backchannel", "subject": "u1", "sessions_ended": float64(1)}},
		{name: "back-channel logout ending nothing", log: func(l *slog.Logger) { audit.BackChannelRevoked(ctx, l, "", 0) },
			want: map[string]any{"event": "tokens_revoked", "source": "backchannel", "subject": "", "sessions_ended": float64(0)}},
		{name: "log out everywhere", log: func(l *slog.Logger) { audit.EverywhereRevoked(ctx, l, "u1", "sid1", 3) },
			want: map[string]any{"event": "sessions_revoked", "source": "user", "subject": "u1", "sid": "sid1", "sessions_ended": float64(3)}},
		{name: "log out everywhere, count unknown", log: func(l *slog.Logger) { audit.EverywhereRevoked(ctx, l, "u1", "sid1", -1) },
			want: map[string]any{"event": "sessions_revoked", "source": "user", "subject": "u1", "sid": "sid1"}},
		{name: "webhook refused", log: func(l *slog.Logger) { audit.WebhookRefused(req, l, 401, "missing or invalid signature") },
			want: map[string]any{"event": "webhook_refused", "status": float64(401), "reason": "missing or invalid signature", "peer": "192.0.2.1"}},
		{name: "untrusted peer", log: func(l *slog.Logger) { audit.UntrustedPeer(req, l, "nginx") },
			want: map[string]any{"event": "untrusted_peer", "peer": "192.0.2.1", "dialect": "nginx"}},
		{name: "rules reloaded", log: func(l *slog.Logger) { audit.RulesReloaded(ctx, l, "/etc/rules.yaml", 3, "h") },
			want: map[string]any{"event": "rules_reloaded", "file": "/etc/rules.yaml", "rules": float64(3), "rules_hash": "h"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf testkit.LogBuffer
			// At error level: audit lines are written whatever the level.
			tt.log(httpkit.NewLogger(&buf, slog.LevelError))
			var got map[string]any
			if err := json.Unmarshal([]byte(buf.String()), &got); err != nil {
				t.Fatalf("%v: %q", err, buf.String())
			}
			delete(got, "time")
			want := map[string]any{"level": "INFO", "msg": "audit", "log": "audit"}
			for k, v := range tt.want {
				want[k] = v
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("audit line (-want +got):\n%s", d)
			}
		})
	}
}

// TestRequestID: a request's audit line carries its request id (the logger's
// handler sees the context), and a nil logger writes nothing.
func TestRequestID(t *testing.T) {
	t.Parallel()
	var buf testkit.LogBuffer
	ctx := httpkit.ContextWithRequestID(context.Background(), "req-1")
	audit.Login(ctx, httpkit.NewLogger(&buf, slog.LevelInfo), "u1", "sid1")
	var got map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &got); err != nil {
		t.Fatal(err)
	}
	if got["request_id"] != "req-1" {
		t.Errorf("request_id = %v, want req-1", got["request_id"])
	}
	audit.Login(ctx, nil, "u1", "sid1") // must not panic
}
