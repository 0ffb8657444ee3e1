package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath reports a request path that cannot be normalised safely
// (an encoded slash or backslash, a control character, a bad escape). The
// authproxy answers such a request with 400.
var ErrInvalidPath = errors.New("invalid path")

// NormalizePath turns the path part of a request-target into the canonical
// form that route rules are matched against. It is the single place where
// path tricks are defeated, so `/products/../branches/1/products`,
// `/%62ranches/1/products`, `//branches/1/products`,
// `/products/%2e%2e/branches/1/products` and `/products;/../branches` all end
// up as the path the upstream will really serve.
//
// Steps, in order:
//   - the query (`?...`) and fragment (`#...`) are cut off;
//   - raw control characters, spaces and backslashes are rejected;
//   - every %XX escape is decoded exactly once; a malformed escape, an encoded
//     slash (%2F), an encoded backslash (%5C) and encoded control characters
//     (%00-%1F, %7F) are rejected, because upstreams disagree on what they mean;
//   - dot segments are resolved (also when they were encoded, `%2e%2e`),
//     empty segments (duplicate slashes) are dropped, a trailing slash is
//     dropped, and the result starts with a single `/`;
//   - bytes that may not appear literally in a path segment (RFC 3986 pchar)
//     are re-encoded as upper-case %XX, so the output is idempotent.
//
// Decoding happens once: `%252e` becomes the literal name `%2e` (written
// `%252e` in the output) and is never treated as a dot segment, which matches
// an upstream that decodes once. `;` is an ordinary character (no matrix
// parameters), so `/products;/../branches` is `/branches`; but a dot segment
// carrying parameters (`..;`, `.;x`, also encoded) is rejected, because
// servlet containers strip the parameters and resolve it.
func NormalizePath(raw string) (string, error) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	// Fast path: an already canonical path (the common case) needs no allocation.
	if isCanonical(raw) {
		return raw, nil
	}
	segs := make([]string, 0, 8)
	var buf []byte
	for seg := range strings.SplitSeq(raw, "/") {
		buf = buf[:0]
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c == '%':
				if i+2 >= len(seg) {
					return "", fmt.Errorf("policy: normalize path: truncated escape: %w", ErrInvalidPath)
				}
				hi, ok1 := unhex(seg[i+1])
				lo, ok2 := unhex(seg[i+2])
				if !ok1 || !ok2 {
					return "", fmt.Errorf("policy: normalize path: bad escape: %w", ErrInvalidPath)
				}
				d := hi<<4 | lo
				switch {
				case d == '/':
					return "", fmt.Errorf("policy: normalize path: encoded slash: %w", ErrInvalidPath)
				case d == '\\':
					return "", fmt.Errorf("policy: normalize path: encoded backslash: %w", ErrInvalidPath)
				case d < 0x20 || d == 0x7f:
					return "", fmt.Errorf("policy: normalize path: encoded control character: %w", ErrInvalidPath)
				}
				buf = append(buf, d)
				i += 2
			case c == '\\':
				return "", fmt.Errorf("policy: normalize path: backslash: %w", ErrInvalidPath)
			case c <= 0x20 || c == 0x7f:
				return "", fmt.Errorf("policy: normalize path: control character or space: %w", ErrInvalidPath)
			default:
				buf = append(buf, c)
			}
		}
		d := string(buf)
		if isDotWithParams(d) {
			return "", fmt.Errorf("policy: normalize path: dot segment with parameters: %w", ErrInvalidPath)
		}
		switch d {
		case "", ".":
			// empty segment (duplicate or trailing slash) or current directory
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, escapeSegment(d))
		}
	}
	if len(segs) == 0 {
		return "/", nil
	}
	n := 0
	for _, s := range segs {
		n += 1 + len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	return b.String(), nil
}

// isCanonical reports whether p is already in NormalizePath's output form:
// a leading slash, only literal pchar bytes, no empty or dot segments and no
// trailing slash.
func isCanonical(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			seg := p[segStart:i]
			if seg == "" || seg == "." || seg == ".." || isDotWithParams(seg) {
				return false
			}
			segStart = i + 1
			continue
		}
		if !literalOK(p[i]) {
			return false
		}
	}
	return true
}

// isDotWithParams reports whether seg is "." or ".." followed by ";" and
// path parameters. Servlet containers (Tomcat, Jetty, Spring) drop the
// parameters before resolving dots, so for them "/public/..;/admin" is
// "/admin"; no such segment is ever legitimate, so it is refused.
func isDotWithParams(seg string) bool {
	dots, _, ok := strings.Cut(seg, ";")
	return ok && (dots == "." || dots == "..")
}

// literalOK reports whether c may stand unescaped in a canonical segment:
// RFC 3986 unreserved, sub-delims, ':' and '@'.
func literalOK(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

func escapeSegment(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !literalOK(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if literalOK(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
