package httpkit

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Error codes written by this package.
const (
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal_error"
	CodeBadRequest       = "bad_request"
)

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteError aborts the request with status and the JSON body
// {"error":code,"message":message}. The message is shown to clients: never
// put an internal error's text, a token or a header value in it.
func WriteError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, ErrorResponse{Error: code, Message: message})
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
			slog.String(KeyMethod, c.Request.Method),
			slog.String(KeyPath, c.Request.URL.Path),
			slog.String(KeyRoute, c.FullPath()),
			slog.Int(KeyStatus, status),
			slog.Float64(KeyDurationMS, float64(time.Since(start).Microseconds())/1000),
			slog.String(KeyRemoteIP, c.RemoteIP()),
		)
	}
}

// Recover turns a panic in a handler into a JSON 500 and logs it (without
// the request's headers). http.ErrAbortHandler is re-panicked, as net/http
// expects.
func Recover(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // net/http compares by identity too.
				panic(rec)
			}
			logger.ErrorContext(c.Request.Context(), "handler panic",
				slog.String(KeyPath, c.Request.URL.Path), slog.String(KeyError, fmt.Sprint(rec)))
			if !c.Writer.Written() {
				WriteError(c, http.StatusInternalServerError, CodeInternal, "internal error")
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
		WriteError(c, http.StatusNotFound, CodeNotFound, "no such route")
	})
	r.NoMethod(func(c *gin.Context) {
		WriteError(c, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed")
	})
	return r
}

// ErrBadID is returned by ParseID.
var ErrBadID = fmt.Errorf("httpkit: id must be a positive integer in canonical form")

// ParseID parses a resource id in a path: a positive decimal integer
// without sign, leading zeros or surrounding space (so "1", never "01" or
// "+1"), at most 18 digits. One canonical spelling per id keeps authorisation
// checks that compare ids unambiguous.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 18 || s[0] < '1' || s[0] > '9' {
		return 0, ErrBadID
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadID
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrBadID
	}
	return n, nil
}
