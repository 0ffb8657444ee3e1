package devidp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Webhook defaults, FusionAuth's: a failed delivery (non-2xx, timeout) is
// retried up to three more times.
const (
	DefaultWebhookTimeout = 2 * time.Second
	webhookRetries        = 3
	webhookBackoff        = 100 * time.Millisecond // before the first retry; doubled for each next
	// WebhookSignatureHeader carries the signature JWT, as FusionAuth 1.48+ sends it.
	WebhookSignatureHeader = "X-FusionAuth-Signature-JWT"
)

// Event types the dev IdP emits.
const (
	EventRefreshTokenRevoke = "jwt.refresh-token.revoke"
	EventUserDeactivate     = "user.deactivate"
	EventUserDelete         = "user.delete"
)

// ErrUnknownUser is returned by the admin actions for a user id not in the directory.
var ErrUnknownUser = errors.New("devidp: unknown user")

// RevokeUserTokens deletes every refresh token of a user, as FusionAuth's
// DELETE /api/jwt/refresh?userId=... does, and then sends the
// jwt.refresh-token.revoke event (all of a user's tokens: userId, no
// applicationId) to the webhook URL, if one is configured. It returns how
// many tokens were revoked and the delivery error, if every attempt failed.
func (s *Server) RevokeUserTokens(ctx context.Context, userID string) (int, error) {
	n := s.revokeRefreshTokens(userID)
	return n, s.emit(ctx, map[string]any{
		"type":   EventRefreshTokenRevoke,
		"userId": userID,
		"applicationTimeToLiveInSeconds": map[string]int64{
			s.cfg.ClientID: int64(s.cfg.AccessTokenTTL / time.Second),
		},
	})
}

// DeactivateUser deactivates a user, as FusionAuth's DELETE /api/user/{id}
// does: logins, SSO sessions and refresh tokens stop working, and the
// user.deactivate event goes to the webhook URL, if one is configured.
func (s *Server) DeactivateUser(ctx context.Context, userID string) error {
	return s.disable(ctx, userID, EventUserDeactivate)
}

// DeleteUser deletes a user, as FusionAuth's DELETE
// /api/user/{id}?hardDelete=true does: as DeactivateUser (the dev IdP keeps
// the account, refused), with the user.delete event.
func (s *Server) DeleteUser(ctx context.Context, userID string) error {
	return s.disable(ctx, userID, EventUserDelete)
}

func (s *Server) disable(ctx context.Context, userID, eventType string) error {
	u, ok := s.users.byID[userID]
	if !ok {
		return ErrUnknownUser
	}
	s.mu.Lock()
	s.inactive[userID] = true
	s.mu.Unlock()
	s.revokeRefreshTokens(userID)
	s.EndSSOSessions(userID)
	s.log.Info("user disabled", slog.String("user_id", userID), slog.String("event_type", eventType))
	return s.emit(ctx, map[string]any{
		"type": eventType,
		"user": map[string]any{
			"id": u.ID, "email": u.Email, "fullName": u.Name, "active": false,
			"tenantId": s.cfg.TenantID, "verified": u.emailVerified(),
		},
	})
}

// active reports whether a user may log in or use a token.
func (s *Server) active(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.inactive[userID]
}

// emit sends event (id, tenantId and createInstant added) to the webhook
// URL, signed, retrying as FusionAuth does. No URL: nothing is sent.
func (s *Server) emit(ctx context.Context, event map[string]any) error {
	if s.cfg.WebhookURL == "" {
		return nil
	}
	event["id"] = newUUID()
	event["tenantId"] = s.cfg.TenantID
	event["createInstant"] = s.now().UnixMilli()
	body, err := json.Marshal(map[string]any{"event": event})
	if err != nil {
		return fmt.Errorf("devidp: webhook: %w", err)
	}
	sum := sha256.Sum256(body)
	sig, err := s.sign(nil, jwt.MapClaims{"request_body_sha256": base64.StdEncoding.EncodeToString(sum[:])})
	if err != nil {
		return fmt.Errorf("devidp: webhook: sign: %w", err)
	}
	log := s.log.With(slog.String("event_type", fmt.Sprint(event["type"])), slog.String("event_id", fmt.Sprint(event["id"])))
	for attempt := 0; ; attempt++ {
		err = s.deliver(ctx, body, sig)
		if err == nil {
			log.Info("webhook delivered", slog.Int("attempt", attempt+1))
			return nil
		}
		log.Warn("webhook delivery failed", slog.Int("attempt", attempt+1), slog.String("error", err.Error()))
		if attempt == webhookRetries {
			return fmt.Errorf("devidp: webhook: %d attempts: %w", attempt+1, err)
		}
		// Back off (100, 200, 400 ms) so a retry can ride out a short
		// outage of the receiver, as FusionAuth's later retries do.
		select {
		case <-ctx.Done():
			return fmt.Errorf("devidp: webhook: %d attempts: %w", attempt+1, errors.Join(err, ctx.Err()))
		case <-time.After(webhookBackoff << attempt):
		}
	}
}

func (s *Server) deliver(ctx context.Context, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookSignatureHeader, sig)
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// adminAPI serves the admin actions with FusionAuth's API shapes, behind
// the API key (Authorization header, as FusionAuth takes it):
// DELETE /api/jwt/refresh?userId=... (or ?token=... for one token, or
// ?applicationId=... for all of the application's),
// PUT /api/user/registration/{userId} (roles) and DELETE /api/user/{userId}
// (?hardDelete=true deletes).
func (s *Server) adminAPI(mux *http.ServeMux) {
	if s.cfg.APIKey == "" {
		return
	}
	mux.HandleFunc("DELETE /api/jwt/refresh", s.apiKey(func(w http.ResponseWriter, r *http.Request) {
		if token := r.URL.Query().Get("token"); token != "" {
			s.revokeOneAPI(w, r, token)
			return
		}
		userID := r.URL.Query().Get("userId")
		if app := r.URL.Query().Get("applicationId"); userID == "" && app != "" {
			s.revokeAppAPI(w, r, app)
			return
		}
		if userID == "" {
			s.writeJSON(w, http.StatusBadRequest, map[string]any{"fieldErrors": map[string]any{"userId": []map[string]string{{"code": "[missing]userId"}}}})
			return
		}
		if _, err := s.RevokeUserTokens(r.Context(), userID); err != nil {
			s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
		}
		w.WriteHeader(http.StatusOK)
	}))
	mux.HandleFunc("PUT /api/user/registration/{userId}", s.apiKey(s.setRolesAPI))
	mux.HandleFunc("DELETE /api/user/{userId}", s.apiKey(func(w http.ResponseWriter, r *http.Request) {
		action := s.DeactivateUser
		if r.URL.Query().Get("hardDelete") == "true" {
			action = s.DeleteUser
		}
		err := action(r.Context(), r.PathValue("userId"))
		switch {
		case errors.Is(err, ErrUnknownUser):
			w.WriteHeader(http.StatusNotFound)
			return
		case err != nil:
			s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
		}
		w.WriteHeader(http.StatusOK)
	}))
}

func (s *Server) apiKey(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !equalConstantTime(r.Header.Get("Authorization"), s.cfg.APIKey) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}
