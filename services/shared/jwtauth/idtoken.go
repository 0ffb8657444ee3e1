package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"slices"
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
//   - nonce (Core 2) is an id_token claim.
//
// Some providers copy id_token claims into their access tokens (dex signs
// its access tokens as id_tokens, nonce and at_hash included). A relying
// party that has seen such access tokens in its token endpoint's answers
// names those claims in accessClaims; they then do not decide. c_hash and a
// typ claim "ID" always do.
//
// An unreadable header or payload counts as an id_token: refusing is the safe
// answer for something that cannot be read.
func IDTokenReason(token string, accessClaims ...string) string {
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
	known := func(claim string) bool { return slices.Contains(accessClaims, claim) }
	switch {
	case p.CHash != nil:
		return "carries c_hash"
	case p.AtHash != nil && !known("at_hash"):
		return "carries at_hash"
	case p.SHash != nil && !known("s_hash"):
		return "carries s_hash"
	case p.Nonce != nil && !known("nonce"):
		return "carries nonce"
	}
	return ""
}

// IDTokenClaims lists the id_token claims (at_hash, s_hash, nonce) that the
// JWT token carries; a relying party learns from its token endpoint's
// access tokens which of them its provider puts in access tokens.
func IDTokenClaims(token string) []string {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	var p map[string]json.RawMessage
	if decodeSegment(payload, &p) != nil {
		return nil
	}
	var out []string
	for _, c := range []string{"at_hash", "s_hash", "nonce"} {
		if _, ok := p[c]; ok {
			out = append(out, c)
		}
	}
	return out
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
