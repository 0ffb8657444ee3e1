// Package devidp is a development identity provider that stands in for FusionAuth where FusionAuth
// cannot run (tests, the local stack). It speaks FusionAuth's OAuth 2.0 / OpenID Connect endpoints
// the way FusionAuth does: discovery, /oauth2/authorize with a hosted login form, PKCE and an SSO
// session, /oauth2/token (authorization_code and refresh_token, FusionAuth's response fields and
// error format, optional refresh-token rotation), /.well-known/jwks.json (RS256 only),
// /oauth2/userinfo, /oauth2/logout and /oauth2/introspect. Access tokens carry FusionAuth's claims
// (aud = application id, applicationId and roles only for registered users) plus "branches" from
// the registration data, as a FusionAuth JWT populate lambda would add them.
//
// Everything lives in memory; users come from a small YAML file (see users.yaml). It is for
// development only: passwords are plain in the YAML file.
//
// Fidelity notes (where FusionAuth's documentation is ambiguous or the devidp departs):
//   - /oauth2/introspect answers the access token's claims with exp and iat in seconds, as today's
//     FusionAuth (and RFC 7662) do; the documentation's old sample shows milliseconds.
//   - The discovery document has FusionAuth's keys, but lists only what devidp implements
//     (RS256, code flow, query response mode, client_secret_basic/post).
//   - The refresh_token grant answers like FusionAuth's sample (no scope, no refresh_token) unless
//     rotation ("OneTimeUse") is on, when the new refresh_token and refresh_token_id come back.
package devidp
