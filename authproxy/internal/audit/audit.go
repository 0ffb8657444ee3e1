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
	// KeyEnded is how many sessions a revocation ended.
	KeyEnded  = "sessions_ended"
	KeyScope  = "scope"
	KeyCutoff = "cutoff"
)

// The events (the "event" attribute).
const (
	EventLogin       = "login"
	EventLoginFailed = "login_failed"
	EventLogout      = "logout"
	EventRevoked     = "sessions_revoked"
	// EventTokensRevoked: a revocation that ended no session (none was
	// live); the tokens it names are recorded revoked all the same.
	EventTokensRevoked = "tokens_revoked"
	EventWebhookRefuse = "webhook_refused"
	EventUntrustedPeer = "untrusted_peer"
	EventRulesReloaded = "rules_reloaded"
)

// Sources of a revocation (KeySource).
const (
	SourceAdmin       = "admin"
	SourceWebhook     = "webhook"
	SourceBackChannel = "backchannel" // OIDC back-channel logout
	SourceUser        = "user"        // the user's "log out everywhere"
)

// ScopeApplication is the scope (KeyScope) of a revocation of every
// session of the application.
const ScopeApplication = "application"

// revokedEvent is sessions_revoked when a session ended, else
// tokens_revoked.
func revokedEvent(ended int) string {
	if ended > 0 {
		return EventRevoked
	}
	return EventTokensRevoked
}

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

// WebhookRevoked: a signed identity-provider webhook revoked a user's
// sessions or one of their tokens: sessions_revoked when it ended sessions,
// tokens_revoked when it ended none. Fields: source (webhook), subject,
// sessions_ended, webhook_event_id, webhook_event_type (e.g.
// jwt.refresh-token.revoke, user.deactivate).
func WebhookRevoked(ctx context.Context, l *slog.Logger, subject string, ended int, eventID, eventType string) {
	write(ctx, l, revokedEvent(ended), slog.String(KeySource, SourceWebhook), slog.String(KeySubject, subject),
		slog.Int(KeyEnded, ended), slog.String(KeyEventID, eventID), slog.String(KeyEventType, eventType))
}

// WebhookApplicationRevoked: a signed webhook revoked every refresh token of
// the application: every session created until cutoff is void (refused as
// it loads, so not counted here). Fields: source (webhook), scope
// (application), cutoff (RFC 3339, milliseconds), webhook_event_id,
// webhook_event_type; no subject.
func WebhookApplicationRevoked(ctx context.Context, l *slog.Logger, cutoff time.Time, eventID, eventType string) {
	write(ctx, l, EventRevoked, slog.String(KeySource, SourceWebhook), slog.String(KeyScope, ScopeApplication),
		slog.String(KeyCutoff, cutoff.UTC().Format("2006-01-02T15:04:05.000Z07:00")),
		slog.String(KeyEventID, eventID), slog.String(KeyEventType, eventType))
}

// BackChannelRevoked: an OIDC back-channel logout token ended the session
// linked to its sid, or every session of its sub: sessions_revoked, or
// tokens_revoked when none was live. Fields: source (backchannel), subject
// ("" when the token named a sid only), sessions_ended.
func BackChannelRevoked(ctx context.Context, l *slog.Logger, subject string, ended int) {
	write(ctx, l, revokedEvent(ended), slog.String(KeySource, SourceBackChannel), slog.String(KeySubject, subject),
		slog.Int(KeyEnded, ended))
}

// EverywhereRevoked: a user's "log out everywhere" ended every session of
// theirs (at least the one that asked). Fields: source (user), subject,
// sid (the session that asked), sessions_ended (the live sessions found
// just before; absent when ended < 0, the store could not tell).
func EverywhereRevoked(ctx context.Context, l *slog.Logger, subject, sid string, ended int) {
	attrs := []slog.Attr{slog.String(KeySource, SourceUser), slog.String(KeySubject, subject), slog.String(KeySID, sid)}
	if ended >= 0 {
		attrs = append(attrs, slog.Int(KeyEnded, ended))
	}
	write(ctx, l, EventRevoked, attrs...)
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
