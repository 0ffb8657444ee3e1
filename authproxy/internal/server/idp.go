package server

import (
	"net/http"

	"github.com/gatewarden/gatewarden/authproxy/internal/backchannel"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
)

// idpRoutes adds the endpoints the identity provider calls, the ones
// configured: FusionAuth's webhook and back-channel logout.
func (s *Server) idpRoutes(mux *http.ServeMux) {
	if s.webhook != nil {
		mux.Handle(webhook.Path, s.webhook)
	}
	if s.backchan != nil {
		mux.Handle(backchannel.Path, s.backchan)
	}
}

// IdPHandler serves only the endpoints the identity provider calls, for
// the separate listener of --webhook-listen (the main handler then does
// not serve them), with health checks for its probes; nil without
// --webhook-listen.
func (s *Server) IdPHandler() http.Handler {
	if s.cfg.WebhookListen == "" {
		return nil
	}
	mux := http.NewServeMux()
	s.idpRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, ErrNotFound, "") })
	return s.guard(mux)
}
