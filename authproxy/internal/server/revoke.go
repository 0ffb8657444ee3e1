package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// idpRevokeTimeout bounds the refresh-token revocation a logout makes.
const idpRevokeTimeout = 3 * time.Second

// newIdPRevokes registers the counter of refresh-token revocations at the
// identity provider by outcome: revoked, failed, unsupported (the provider
// offers neither a revocation_endpoint nor, for FusionAuth, the Logout API).
func newIdPRevokes(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "authproxy", Name: "idp_token_revocations_total",
		Help: "Refresh tokens revoked at the identity provider at logout, by outcome (revoked, failed, unsupported).",
	}, []string{"outcome"})
	reg.MustRegister(c)
	return c
}

// revokeAtIdP revokes a logged-out session's refresh token at the
// provider, so a stolen copy dies with the session. The logout has already
// succeeded here: a failure is logged and counted, never answered.
func (s *Server) revokeAtIdP(ctx context.Context, refreshToken string) {
	if refreshToken == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), idpRevokeTimeout)
	defer cancel()
	ok, err := s.provider.RevokeRefreshToken(ctx, refreshToken)
	switch {
	case err != nil:
		s.idpRevokes.WithLabelValues("failed").Inc()
		s.log.WarnContext(ctx, "logout: refresh token not revoked at the identity provider", slog.String(keyError, err.Error()))
	case ok:
		s.idpRevokes.WithLabelValues("revoked").Inc()
	default:
		s.idpRevokes.WithLabelValues("unsupported").Inc()
	}
}
