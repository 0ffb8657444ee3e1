// Package idps runs authproxy against OpenID providers nobody on this
// project wrote: zitadel/oidc's example provider (cmd/zitadel-op) and dex
// (built from its own module as a go tool), beside the dev IdP. The tests
// build every binary in one go build, start real redis-server, providers
// and authproxy on 127.0.0.1, and drive each provider's own login form.
package idps
