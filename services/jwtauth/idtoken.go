package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// IDTokenReason tells an OpenID Connect id_token from an access token by
// what the specifications define, and returns why token is an id_token ("" when it is not one).
// token must be a compact JWS; its signature is not checked here.
//
//   - A "typ" header of "at+jwt" (RFC 9068 section 2.1) marks an access token,
//     whatever the payload holds.
//   - A "typ" claim of "ID" marks an id_token and one of "Bearer" an access
//     token (Keycloak and the providers built like it).
//   - at_hash, c_hash or s_hash (OpenID Connect Core 3.1.3.6, 3.3.2.11, FAPI)
//     bind an id_token to the tokens issued with it: only id_tokens carry them.
//     FusionAuth puts at_hash in every id_token, refreshed ones included.
//   - nonce (Core 2) is an id_token claim, but some providers also copy it
//     into their access tokens (dex). nonceInAccess says this provider is known
//     to; then nonce alone does not decide.
//
// An unreadable header or payload counts as an id_token: refusing is the safe
// answer for something that cannot be read.
func IDTokenReason(token string, nonceInAccess bool) string {
	header, rest, ok := strings.Cut(token, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return "unreadable token"
	}
	var h struct {
		Typ string `json:"typ"`
	}
	var p struct {
		Typ    *string          `json:"typ"`
		AtHash *json.RawMessage `json:"at_hash"`
		CHash  *json.RawMessage `json:"c_hash"`
		SHash  *json.RawMessage `json:"s_hash"`
		Nonce  *json.RawMessage `json:"nonce"`
	}
	if decodeSegment(header, &h) != nil || decodeSegment(payload, &p) != nil {
		return "unreadable token"
	}
	typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(h.Typ), "application/"))
	if typ == "at+jwt" {
		return ""
	}
	if p.Typ != nil {
		switch strings.ToLower(*p.Typ) {
		case "id":
			return `typ claim "ID"`
		case "bearer":
			return ""
		}
	}
	switch {
	case p.AtHash != nil:
		return "carries at_hash"
	case p.CHash != nil:
		return "carries c_hash"
	case p.SHash != nil:
		return "carries s_hash"
	case p.Nonce != nil && !nonceInAccess:
		return "carries nonce"
	}
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
