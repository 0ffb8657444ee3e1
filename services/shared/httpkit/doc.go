// Package httpkit holds the HTTP plumbing every gatewarden binary shares
// (catalog, inventory and authproxy): a JSON slog logger that adds the
// request id to every line, request ids, one access-log line per request,
// JSON error bodies, Prometheus request metrics, health handlers, listening
// with a clear "address in use" error, graceful serving, and EnvFlags, which
// lets a flag.FlagSet take its defaults from environment variables.
//
// Nothing here logs headers, tokens or cookies: the access log records the
// method, the path without its query, the status, the duration and the
// request id, and nothing else about the request.
package httpkit
