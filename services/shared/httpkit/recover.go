package httpkit

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover returns middleware that turns a panic in a handler into one log
// line (see Recovered) and the answer written by answer, the binary's fixed
// 500 response.
func Recover(logger *slog.Logger, answer http.HandlerFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					Recovered(logger, r, v)
					answer(w, r)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Recovered handles v, a value recovered from a panic while serving r:
// http.ErrAbortHandler is panicked again, as net/http expects; anything else
// is logged at error level with the path, the panic's type and the stack.
// The value itself is not logged (it may hold request data). Recover and
// the gin adapter (ginkit.Recover) are built on it.
func Recovered(logger *slog.Logger, r *http.Request, v any) {
	if v == http.ErrAbortHandler { //nolint:errorlint // a recovered panic value, compared as net/http does
		panic(v)
	}
	logger.ErrorContext(r.Context(), "panic", slog.String(KeyPath, r.URL.Path),
		slog.String(KeyPanicType, fmt.Sprintf("%T", v)), slog.String(KeyStack, string(debug.Stack())))
}
