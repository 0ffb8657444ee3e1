// Package audit writes authproxy's audit stream: one JSON log line per
// security-relevant event (a login, a logout, sessions revoked by an
// operator's command or a webhook, a refused webhook, a forwarded request
// refused from an untrusted peer, the route rules reloaded).
//
// Audit lines go through the process's logger, so they land in the same
// stream with the same request id, but they carry the attribute
// "log":"audit" and the message "audit", which the per-decision lines
// ("msg":"decision") and the others never do: select them with
// `jq 'select(.log == "audit")'` or a log pipeline filter on that field.
// They are written whatever the log level (a level filters diagnostics, not
// the record of who did what). They hold ids, never a token, cookie, code or
// secret: a session is named by its sid (the gateway token's "sid" claim,
// a one-way hash of the cookie's id) or, in an operator's revocation, by the
// id `authproxy sessions list` prints.
//
// The fields of each event are listed at its function; every line also has
// time, level (INFO), msg ("audit"), log ("audit") and event.
package audit

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Attribute keys and values of audit lines.
const (
	KeyLog   = "log"
	Value    = "audit" // KeyLog's value, and the message of every audit line
	KeyEvent = "event"

	KeySubject   = "subject"
	KeySID       = "sid"
	KeyResult    = "result"
	KeyReason    = "reason"
	KeySource    = "source"
	KeySessions  = "sessions"
	KeyEventID   = "webhook_event_id"
	KeyEventType = "webhook_event_type"
	KeyStatus    = "status"
	KeyPeer      = "peer"
	KeyDialect   = "dialect"
	KeyFile      = "file"
	KeyRules     = "rules"
	KeyRulesHash = "rules_hash"
)

// The events (the "event" attribute).
const (
	EventLogin         = "login"
	EventLoginFailed   = "login_failed"
	EventLogout        = "logout"
	EventRevoked       = "sessions_revoked"
	EventWebhookRefuse = "webhook_refused"
	EventUntrustedPeer = "untrusted_peer"
	EventRulesReloaded = "rules_reloaded"
)

// Sources of a revocation (KeySource).
const (
	SourceAdmin   = "admin"
	SourceWebhook = "webhook"
)

// Login: a login completed and a session was created. Fields: subject (the
// user's id at the identity provider), sid.
func Login(ctx context.Context, l *slog.Logger, subject, sid string) {
	write(ctx, l, EventLogin, slog.String(KeySubject, subject), slog.String(KeySID, sid))
}

// LoginFailed: a login callback was refused. Fields: reason (the error code
// the browser was shown, e.g. state_unknown, idp_error).
func LoginFailed(ctx context.Context, l *slog.Logger, reason string) {
	write(ctx, l, EventLoginFailed, slog.String(KeyReason, reason))
}

// Logout: a browser asked to log out. Fields: subject and sid ("" when the
// cookie named no live session), result (ok, or store_error when the
// session could not be deleted).
func Logout(ctx context.Context, l *slog.Logger, subject, sid string, err error) {
	result := "ok"
	if err != nil {
		result = "store_error"
	}
	write(ctx, l, EventLogout, slog.String(KeySubject, subject), slog.String(KeySID, sid), slog.String(KeyResult, result))
}

// AdminRevoked: `authproxy sessions revoke` ended sessions. Fields: source
// (admin), subject, sessions (the ids ended, as `sessions list` prints them).
func AdminRevoked(ctx context.Context, l *slog.Logger, subject string, sessions []string) {
	write(ctx, l, EventRevoked, slog.String(KeySource, SourceAdmin), slog.String(KeySubject, subject),
		slog.Any(KeySessions, sessions))
}

// WebhookRevoked: a signed identity-provider webhook ended every session of
// a user. Fields: source (webhook), subject, webhook_event_id,
// webhook_event_type (e.g. jwt.refresh-token.revoke, user.deactivate).
func WebhookRevoked(ctx context.Context, l *slog.Logger, subject, eventID, eventType string) {
	write(ctx, l, EventRevoked, slog.String(KeySource, SourceWebhook), slog.String(KeySubject, subject),
		slog.String(KeyEventID, eventID), slog.String(KeyEventType, eventType))
}

// WebhookRefused: the webhook endpoint refused a delivery. Fields: status
// (the HTTP status answered), reason (the refusal, e.g. "missing or invalid
// signature"), peer (the connection's address).
func WebhookRefused(r *http.Request, l *slog.Logger, status int, reason string) {
	write(r.Context(), l, EventWebhookRefuse, slog.Int(KeyStatus, status), slog.String(KeyReason, reason),
		slog.String(KeyPeer, peer(r)))
}

// UntrustedPeer: a forward-auth request carrying forwarded headers came
// from a peer outside --trusted-proxies and was refused (403). Fields: peer,
// dialect (the forward-auth dialect of the endpoint).
func UntrustedPeer(r *http.Request, l *slog.Logger, dialect string) {
	write(r.Context(), l, EventUntrustedPeer, slog.String(KeyPeer, peer(r)), slog.String(KeyDialect, dialect))
}

// RulesReloaded: a changed, valid route rules file is now in force. Fields:
// file, rules (how many), rules_hash (the content hash, as
// --check-config prints it).
func RulesReloaded(ctx context.Context, l *slog.Logger, file string, rules int, hash string) {
	write(ctx, l, EventRulesReloaded, slog.String(KeyFile, file), slog.Int(KeyRules, rules), slog.String(KeyRulesHash, hash))
}

// write hands the record to l's handler directly: Logger.Log would drop it
// below the configured level.
func write(ctx context.Context, l *slog.Logger, event string, attrs ...slog.Attr) {
	if l == nil {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, Value, 0)
	r.AddAttrs(slog.String(KeyLog, Value), slog.String(KeyEvent, event))
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// peer is the connection's IP address.
func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
