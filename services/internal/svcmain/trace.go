package svcmain

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// routeSpanName names the request's server span after the gin route
// ("GET /api/products/:id") once the route has run.
// The context is taken before the handlers run: later ones replace
// c.Request with one whose context holds the handler's span.
func routeSpanName(c *gin.Context) {
	ctx := c.Request.Context()
	c.Next()
	tracing.SetRoute(ctx, c.Request.Method, c.FullPath())
}

// handlerSpan wraps an authenticated route's handler (after the token's
// verification) in a span named "handler <route>"; the database calls made
// with the request's context are its children.
func handlerSpan(tracer trace.Tracer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, span := tracer.Start(c.Request.Context(), "handler "+c.FullPath())
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
