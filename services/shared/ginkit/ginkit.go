// Package ginkit adapts the shared net/http kit (services/shared/httpkit) to
// gin, for the services that route with gin (catalog, inventory): an engine
// set up the way every service wants it (NewEngine), request ids and panic
// recovery on httpkit's cores, one access-log line per request, request
// metrics by route pattern, JSON error answers, error-returning handlers,
// and the health routes. It is the only shared package that imports gin;
// authproxy never imports it.
//
// Nothing here logs headers, tokens or cookies: the access log records the
// method, the path without its query, the route, the status, the duration,
// the remote IP and the request id, and nothing else about the request.
package ginkit

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

// WriteError aborts the request with status and the JSON body
// {"error":code,"message":message}. The message is shown to clients: never
// put an internal error's text, a token or a header value in it.
func WriteError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, httpkit.ErrorResponse{Error: code, Message: message})
}

// RequestID is httpkit.RequestID for gin: it keeps a sane incoming
// X-Request-Id or makes one, echoes it and puts it in the request's context.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request = httpkit.WithRequestID(c.Writer, c.Request)
		c.Next()
	}
}

// AccessLog writes one line per request after it is served: method, path
// (without the query), route pattern, status, duration, remote IP and request
// id. Headers are never logged. 5xx answers are logged at warn level.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		logger.LogAttrs(c.Request.Context(), level, "request",
			slog.String(httpkit.KeyMethod, c.Request.Method),
			slog.String(httpkit.KeyPath, c.Request.URL.Path),
			slog.String(httpkit.KeyRoute, c.FullPath()),
			slog.Int(httpkit.KeyStatus, status),
			slog.Float64(httpkit.KeyDurationMS, float64(time.Since(start).Microseconds())/1000),
			slog.String(httpkit.KeyRemoteIP, c.RemoteIP()),
		)
	}
}

// Recover is httpkit.Recover for gin: a panic in a handler is logged by
// httpkit.Recovered and answered with a JSON 500 unless the handler had
// already written its answer.
func Recover(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			httpkit.Recovered(logger, c.Request, v)
			if !c.Writer.Written() {
				WriteError(c, http.StatusInternalServerError, httpkit.CodeInternal, "internal error")
				return
			}
			c.Abort()
		}()
		c.Next()
	}
}

// NewEngine returns a gin engine set up the way every gatewarden service
// wants it: request ids, access log, panic recovery, JSON 404/405 answers,
// no trusted proxies (the client IP is the peer address), the request
// context visible through gin.Context, and gin in release mode (gin's debug
// mode prints unstructured lines to stdout; gin.SetMode is atomic).
func NewEngine(logger *slog.Logger) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // nil never fails.
	r.Use(RequestID(), AccessLog(logger), Recover(logger))
	r.NoRoute(func(c *gin.Context) {
		WriteError(c, http.StatusNotFound, httpkit.CodeNotFound, "no such route")
	})
	r.NoMethod(func(c *gin.Context) {
		WriteError(c, http.StatusMethodNotAllowed, httpkit.CodeMethodNotAllowed, "method not allowed")
	})
	return r
}

// Handle adapts a gin handler that returns an error: nil and
// httpkit.ErrAnswered mean it answered; anything else goes to writeErr, the
// service's one place that maps errors to HTTP (which starts with
// WriteKnown).
func Handle(fn func(*gin.Context) error, writeErr func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil && !errors.Is(err, httpkit.ErrAnswered) {
			writeErr(c, err)
		}
	}
}

// WriteKnown answers the errors every service shares (an *httpkit.Error, a
// body httpkit.DecodeJSON refused) and reports whether it did.
func WriteKnown(c *gin.Context, err error) bool {
	var he *httpkit.Error
	switch {
	case errors.As(err, &he):
		WriteError(c, he.Status, he.Code, he.Message)
	case errors.Is(err, httpkit.ErrBadJSON):
		WriteError(c, http.StatusBadRequest, httpkit.CodeBadBody, strings.TrimPrefix(err.Error(), httpkit.ErrBadJSON.Error()+": "))
	default:
		return false
	}
	return true
}

// RegisterHealth mounts h's handlers on r: GET and HEAD /healthz and /readyz.
func RegisterHealth(r gin.IRoutes, h httpkit.HealthHandlers) {
	for path, handler := range map[string]http.Handler{"/healthz": h.Healthz, "/readyz": h.Readyz} {
		r.GET(path, gin.WrapH(handler))
		r.HEAD(path, gin.WrapH(handler))
	}
}
