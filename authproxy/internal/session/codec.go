package session

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The sealed record holds the Session as the JSON that encoding/json writes.
// Reading it is most of a cache-off decision's CPU, so decodeSession parses
// exactly that canonical form (fixed keys, no whitespace, strings without
// escapes) in one pass with one string allocation for all text fields, and
// hands anything else to encoding/json. The input has already been
// authenticated by AES-GCM, and FuzzDecodeSession checks that whenever the
// fast path accepts an input, encoding/json decodes it to the same Session.

// encodeSession is the record's plaintext.
func encodeSession(s *Session) ([]byte, error) { return json.Marshal(s) } //nolint:gosec // G117: the plaintext is sealed (AES-GCM) before it is stored

// decodeSession fills sess from plain.
func decodeSession(plain []byte, sess *Session) error {
	if decodeCanonical(plain, sess) {
		return nil
	}
	*sess = Session{}
	return json.Unmarshal(plain, sess)
}

// canonicalDecoder walks the record. src is one string copy of the record;
// text fields are substrings of it.
type canonicalDecoder struct {
	raw []byte
	src string
	i   int
}

func (d *canonicalDecoder) next(c byte) bool {
	if d.i < len(d.src) && d.src[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a JSON string without escapes. Control characters and invalid
// UTF-8 make it fail (encoding/json then decides). The closing quote and
// any backslash are found with strings.IndexByte (vectorised); the
// remaining check is one comparison per byte, as the record is mostly
// long base64url tokens.
func (d *canonicalDecoder) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	n := strings.IndexByte(d.src[d.i:], '"')
	if n < 0 {
		return "", false
	}
	s := d.src[d.i : d.i+n]
	d.i += n + 1
	if strings.IndexByte(s, '\\') >= 0 {
		return "", false
	}
	// Eight bytes at a time (raw holds the same bytes as src): a word with
	// no byte below 0x20 and none above 0x7f has no high bit set in
	// (w - 0x20 in every byte) | w. A borrow can only flag a word that has
	// such a byte anyway, and a flagged word is looked at byte by byte.
	raw, i := d.raw[d.i-n-1:d.i-1], 0
	for ; i+8 <= len(raw); i += 8 {
		if w := binary.LittleEndian.Uint64(raw[i:]); ((w-0x2020202020202020)|w)&0x8080808080808080 != 0 {
			return s, validText(s[i:])
		}
	}
	for ; i < len(s); i++ {
		if s[i]-0x20 >= 0x60 { // below 0x20 or above 0x7f: look closer
			return s, validText(s[i:])
		}
	}
	return s, true
}

// validText: no control characters, valid UTF-8.
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return false
		}
	}
	return utf8.ValidString(s)
}

// list reads a non-empty array of strings.
func (d *canonicalDecoder) list() ([]string, bool) {
	if !d.next('[') {
		return nil, false
	}
	var out []string
	for {
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if d.next(']') {
			return out, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

// decodeCanonical reports whether plain was in canonical form; sess is only
// meaningful then.
func decodeCanonical(plain []byte, sess *Session) bool {
	d := canonicalDecoder{raw: plain, src: string(plain)}
	*sess = Session{}
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return d.i == len(d.src)
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		switch key {
		case "uid":
			sess.UserID, ok = d.str()
		case "email":
			sess.Email, ok = d.str()
		case "name":
			sess.Name, ok = d.str()
		case "roles":
			sess.Roles, ok = d.list()
		case "tid":
			sess.TenantID, ok = d.str()
		case "branches":
			sess.Branches, ok = d.list()
		case "at":
			sess.AccessToken, ok = d.str()
		case "rt":
			sess.RefreshToken, ok = d.str()
		case "idt":
			sess.IDToken, ok = d.str()
		case "atx", "cat", "lst":
			start := d.i
			if _, ok = d.str(); ok {
				t := &sess.AccessExpiry
				if key == "cat" {
					t = &sess.CreatedAt
				} else if key == "lst" {
					t = &sess.LastSeen
				}
				// The quoted bytes, exactly as encoding/json hands them over.
				ok = t.UnmarshalJSON(d.raw[start:d.i]) == nil
			}
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.next('}') {
			return d.i == len(d.src)
		}
		if !d.next(',') {
			return false
		}
	}
}
