package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxNumericDate is 9999-12-31T23:59:59Z. Larger exp, nbf or iat values are
// refused: converting them to time.Time overflows int64, which on amd64
// turns a far-future nbf into a date in the past (and an exp into the past
// or the far future, depending on the CPU).
const maxNumericDate = 253402300799

// claimNames are the payload members Claims' fields read. encoding/json
// matches member names case-insensitively (also through Unicode folding:
// "ſub" is read as sub), so a member that folds to one of these names
// without being exactly it is refused rather than silently read as that
// claim. Every other member is kept for Claims.Extra, which matches names
// exactly.
var claimNames = [...]string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "roles", "tid", "sid",
	"applicationId", "email", "name", "preferred_username", "nonce", "orig_iat",
}

// dateClaims must be plain JSON numbers within [0, maxNumericDate].
var dateClaims = [...]string{"exp", "nbf", "iat", "orig_iat"}

// inspect decodes the header and the payload of a syntactically valid
// compact JWS, refuses the ambiguous JSON that parsers disagree about, and
// returns the unverified iss, used only to choose whose keys and rules
// verify the token, and the payload members no field of Claims reads (nil
// when there are none), for Claims.Extra once the token is verified.
// Refused: a header or payload that is not exactly one JSON object; a member
// name given twice (RFC 7515 section 4 and RFC 7519 section 4 allow "last
// one wins", but other consumers of the same token may read the first); a
// payload member that only case-folds to a claim name; exp, nbf, iat or orig_iat that
// is not a JSON number in range.
func inspect(token string) (string, map[string]json.RawMessage, error) {
	header, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	hb, err := base64.RawURLEncoding.Strict().DecodeString(header)
	if err != nil {
		return "", nil, fmt.Errorf("header: %w", err)
	}
	if _, err := members(hb); err != nil {
		return "", nil, fmt.Errorf("header: %w", err)
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return "", nil, fmt.Errorf("payload: %w", err)
	}
	ms, err := members(pb)
	if err != nil {
		return "", nil, fmt.Errorf("payload: %w", err)
	}
	for _, c := range dateClaims {
		if raw, ok := ms[c]; ok {
			if err := checkNumericDate(raw); err != nil {
				return "", nil, fmt.Errorf("payload: %s: %w", c, err)
			}
		}
	}
	var iss string
	if raw, ok := ms["iss"]; ok {
		if err := json.Unmarshal(raw, &iss); err != nil {
			return "", nil, fmt.Errorf("payload: iss: %w", err)
		}
	}
	// What remains of ms once the claims the fields read are deleted is the
	// extra claims. No two claimNames fold to each other, so an exact match
	// ends the search.
	for name := range ms {
		for _, c := range claimNames {
			if name == c {
				delete(ms, name)
				break
			}
			if strings.EqualFold(name, c) {
				return "", nil, fmt.Errorf("payload: member %q is a case variant of claim %q", name, c)
			}
		}
	}
	if len(ms) == 0 {
		ms = nil
	}
	return iss, ms, nil
}

// members splits a JSON object into its top-level members, refusing
// anything but one object and any member name given twice.
func members(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	ms := make(map[string]json.RawMessage, 12)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("member name: %w", err)
		}
		name, _ := t.(string) // object keys are always strings
		if _, dup := ms[name]; dup {
			return nil, fmt.Errorf("member %q given twice", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		ms[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("end of object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return ms, nil
}

// checkNumericDate accepts a JSON number (not a string) in [0, maxNumericDate].
func checkNumericDate(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return errors.New("not a JSON number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return errors.New("out of range")
	}
	return nil
}
