// Package ginjwt adapts jwtauth's net/http middleware to gin: the same
// verification, the same answers, the claims in the request's context
// (read them with jwtauth.FromContext(c.Request.Context())).
package ginjwt

import (
	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Middleware is (*jwtauth.Verifier).Middleware for gin.
func Middleware(v *jwtauth.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, ok := v.Authenticate(c.Writer, c.Request)
		if !ok {
			c.Abort()
			return
		}
		c.Request = r
		c.Next()
	}
}

// RequireAnyRole is jwtauth.RequireAnyRole for gin, placed after Middleware.
func RequireAnyRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !jwtauth.CheckAnyRole(c.Writer, c.Request, roles...) {
			c.Abort()
			return
		}
		c.Next()
	}
}
