// Package httpkit holds the net/http plumbing every gatewarden binary shares
// (authproxy, catalog, inventory, the dev IdP): a JSON slog logger that adds
// the request id to every line, request ids, panic recovery, the JSON error
// body and its codes, strict JSON request bodies, canonical path ids,
// Prometheus metrics serving, health handlers, the HTTP server with its
// timeouts, listening with a clear "address in use" error, and graceful
// serving. Configuration (flags, environment, --check-config) is package
// options'.
//
// It imports the standard library and Prometheus only, never gin: the gin
// adapters (an engine, request ids, recovery, access log, request metrics)
// are in package ginkit, built on the cores here (WithRequestID, Recovered).
//
// Nothing here logs headers, tokens or cookies, nor a panic's value.
package httpkit
