package policy

import (
	"errors"
	"fmt"
	"strings"
)

// pathMatcher matches canonical path segments against a glob: `*` is exactly
// one segment, `**` (at most one per pattern) is zero or more segments.
// Literal segments compare exactly (paths are case-sensitive, like upstreams).
type pathMatcher struct {
	prefix []string
	suffix []string // only with double
	double bool
}

func compilePath(pattern string) (pathMatcher, error) {
	var pm pathMatcher
	if !strings.HasPrefix(pattern, "/") {
		return pm, errors.New("must start with /")
	}
	if strings.ContainsAny(pattern, "?#") {
		return pm, errors.New("no query or fragment allowed")
	}
	if pattern == "/" {
		return pm, nil
	}
	for i, seg := range strings.Split(pattern[1:], "/") {
		switch {
		case seg == "":
			return pm, fmt.Errorf("empty segment %d (duplicate or trailing slash)", i)
		case seg == "." || seg == "..":
			return pm, fmt.Errorf("dot segment %d", i)
		case seg == "**":
			if pm.double {
				return pm, errors.New("at most one ** per path")
			}
			pm.double = true
			continue
		case seg == "*":
		case strings.Contains(seg, "*"):
			return pm, fmt.Errorf("segment %q: * must be a whole segment", seg)
		default:
			canon, err := NormalizePath("/" + seg)
			if err != nil || strings.Count(canon, "/") != 1 {
				return pm, fmt.Errorf("segment %q: not a valid path segment", seg)
			}
			seg = canon[1:]
		}
		if pm.double {
			pm.suffix = append(pm.suffix, seg)
		} else {
			pm.prefix = append(pm.prefix, seg)
		}
	}
	return pm, nil
}

func (pm *pathMatcher) match(segs []string) bool {
	if !pm.double {
		return len(segs) == len(pm.prefix) && segsMatch(pm.prefix, segs)
	}
	if len(segs) < len(pm.prefix)+len(pm.suffix) {
		return false
	}
	return segsMatch(pm.prefix, segs[:len(pm.prefix)]) &&
		segsMatch(pm.suffix, segs[len(segs)-len(pm.suffix):])
}

func segsMatch(pat, segs []string) bool {
	for i, p := range pat {
		if p == "*" {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return true
}

// hostMatcher: any host, `*.example.com` (exactly one more label), or an
// exact name; case-insensitive, port ignored.
type hostMatcher struct {
	any    bool
	exact  string
	suffix string // ".example.com" for "*.example.com"
}

func compileHost(h string) (hostMatcher, error) {
	if h == "" || h == "*" {
		return hostMatcher{any: true}, nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if err := validHostname(rest); err != nil {
			return hostMatcher{}, err
		}
		return hostMatcher{suffix: "." + rest}, nil
	}
	if err := validHostname(h); err != nil {
		return hostMatcher{}, err
	}
	return hostMatcher{exact: h}, nil
}

func validHostname(h string) error {
	if h == "" || len(h) > 253 {
		return errors.New("bad host name length")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or too long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("invalid character %q (globs: * or *.domain; no port)", c)
			}
		}
	}
	return nil
}

func (hm *hostMatcher) match(host string) bool {
	switch {
	case hm.any:
		return true
	case hm.suffix != "":
		label, ok := strings.CutSuffix(host, hm.suffix)
		return ok && label != "" && !strings.Contains(label, ".")
	default:
		return host == hm.exact
	}
}

// canonicalHost strips the port and a trailing dot and lower-cases host.
func canonicalHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 && strings.Count(host, ":") == 1 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
