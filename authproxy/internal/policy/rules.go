// Package policy holds authproxy's route rules: parsing and validating the
// rules file, matching a normalised request (host, method, path) to the first
// rule that applies, and deciding whether a user's roles satisfy it. It also
// owns NormalizePath, the canonical path form that rules are matched against.
//
// A request that matches no rule is denied.
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// ErrInvalidRules wraps every problem found in a rules file.
var ErrInvalidRules = errors.New("invalid rules")

// Access says who may pass a rule.
type Access string

// Access values.
const (
	AccessPublic        Access = "public"        // anyone; anonymous gateway token
	AccessAuthenticated Access = "authenticated" // any logged-in user
	AccessRoles         Access = "roles"         // a logged-in user with one of AnyOf
	AccessDeny          Access = "deny"          // nobody (explicit deny; no upstream needed)
)

// Forward says which credential authproxy hands the ingress for the upstream.
type Forward string

// Forward values.
const (
	ForwardGatewayJWT  Forward = "gateway-jwt"  // a short-lived token signed by authproxy (default)
	ForwardAccessToken Forward = "access-token" // the user's own FusionAuth access token
)

// Match selects the requests a rule applies to. Empty Host or Methods match
// any host or method.
type Match struct {
	Host    string   `json:"host,omitempty"`
	Methods []string `json:"methods,omitempty"`
	Path    string   `json:"path"`
}

// Rule is one entry of the rules file.
type Rule struct {
	Name     string   `json:"name"`
	Match    Match    `json:"match"`
	Access   Access   `json:"access"`
	AnyOf    []string `json:"anyOf,omitempty"`
	Upstream string   `json:"upstream,omitempty"`
	Forward  Forward  `json:"forward,omitempty"`

	host    hostMatcher
	methods []string // upper case; GET implies HEAD
	path    pathMatcher
}

// Rules is a validated, ordered rule list. It is immutable and safe for
// concurrent use.
type Rules struct {
	rules []Rule
	hash  string
}

type file struct {
	Rules []Rule `json:"rules"`
}

// Known keys, checked case-sensitively (encoding/json alone would accept
// "AnyOf" or "anyof").
var (
	fileKeys  = []string{"rules"}
	ruleKeys  = []string{"name", "match", "access", "anyOf", "upstream", "forward"}
	matchKeys = []string{"host", "methods", "path"}
)

// knownMethods are the methods a rule may list (RFC 9110 plus PATCH).
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// Load reads and parses a rules file.
func Load(path string) (*Rules, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the path comes from the operator's configuration
	if err != nil {
		return nil, fmt.Errorf("policy: load: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: load %s: %w", path, err)
	}
	return r, nil
}

// Parse parses a rules document (YAML or JSON) strictly: duplicate and
// unknown keys are errors, and every problem in the document is reported at
// once (errors.Join), each naming the rule's index and name.
func Parse(data []byte) (*Rules, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("policy: parse: %w: %w", ErrInvalidRules, err)
	}
	var problems []error
	var generic any
	if err := json.Unmarshal(js, &generic); err != nil {
		return nil, fmt.Errorf("policy: parse: %w: %w", ErrInvalidRules, err)
	}
	problems = append(problems, unknownKeys(generic)...)

	var f file
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil && len(problems) == 0 {
		// Unknown keys are already reported above, with better locations.
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("policy: parse: %w: %w", ErrInvalidRules, errors.Join(problems...))
	}
	if len(f.Rules) == 0 {
		return nil, fmt.Errorf("policy: parse: %w: rules: at least one rule is required", ErrInvalidRules)
	}
	seen := make(map[string]int, len(f.Rules))
	for i := range f.Rules {
		r := &f.Rules[i]
		where := fmt.Sprintf("rule %d (%q)", i, r.Name)
		if r.Name == "" {
			where = fmt.Sprintf("rule %d", i)
			problems = append(problems, fmt.Errorf("%s: name is required", where))
		} else if j, dup := seen[r.Name]; dup {
			problems = append(problems, fmt.Errorf("%s: duplicate name (also rule %d)", where, j))
		} else {
			seen[r.Name] = i
		}
		for _, err := range r.compile() {
			problems = append(problems, fmt.Errorf("%s: %w", where, err))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("policy: parse: %w: %w", ErrInvalidRules, errors.Join(problems...))
	}
	return &Rules{rules: f.Rules, hash: HashOf(data)}, nil
}

// HashOf is the content hash Parse gives a document (Rules.Hash): the first
// 8 bytes of its SHA-256, in hex.
func HashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// unknownKeys walks the decoded document and reports every key that is not
// part of the format.
func unknownKeys(doc any) []error {
	var out []error
	top, ok := doc.(map[string]any)
	if !ok {
		if doc == nil {
			return []error{errors.New("document is empty")}
		}
		return []error{errors.New("document must be a mapping with a rules list")}
	}
	out = append(out, checkKeys("top level", top, fileKeys)...)
	list, _ := top["rules"].([]any)
	for i, item := range list {
		rule, ok := item.(map[string]any)
		if !ok {
			continue // the typed decode reports the type error
		}
		where := fmt.Sprintf("rule %d", i)
		if n, ok := rule["name"].(string); ok && n != "" {
			where = fmt.Sprintf("rule %d (%q)", i, n)
		}
		out = append(out, checkKeys(where, rule, ruleKeys)...)
		if m, ok := rule["match"].(map[string]any); ok {
			out = append(out, checkKeys(where+": match", m, matchKeys)...)
		}
	}
	return out
}

func checkKeys(where string, m map[string]any, known []string) []error {
	var out []error
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			out = append(out, fmt.Errorf("%s: unknown key %q (known: %s)", where, k, strings.Join(known, ", ")))
		}
	}
	return out
}

// compile validates r and fills its matchers; it returns every problem.
func (r *Rule) compile() []error {
	var errs []error
	if r.Match.Path == "" {
		errs = append(errs, errors.New("match.path is required"))
	} else if pm, err := compilePath(r.Match.Path); err != nil {
		errs = append(errs, fmt.Errorf("match.path %q: %w", r.Match.Path, err))
	} else {
		r.path = pm
	}
	if hm, err := compileHost(r.Match.Host); err != nil {
		errs = append(errs, fmt.Errorf("match.host %q: %w", r.Match.Host, err))
	} else {
		r.host = hm
	}
	r.methods = nil
	for _, m := range r.Match.Methods {
		u := strings.ToUpper(m)
		if !slices.Contains(knownMethods, u) {
			errs = append(errs, fmt.Errorf("match.methods: unknown method %q (known: %s)", m, strings.Join(knownMethods, ", ")))
			continue
		}
		if !slices.Contains(r.methods, u) {
			r.methods = append(r.methods, u)
		}
	}
	if len(r.Match.Methods) > 0 && len(r.methods) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("match.methods: empty list"))
	}
	if slices.Contains(r.methods, "GET") && !slices.Contains(r.methods, "HEAD") {
		r.methods = append(r.methods, "HEAD")
	}

	switch r.Access {
	case AccessRoles:
		if len(r.AnyOf) == 0 {
			errs = append(errs, errors.New("access roles needs a non-empty anyOf"))
		}
		for _, role := range r.AnyOf {
			if strings.TrimSpace(role) == "" || role != strings.TrimSpace(role) {
				errs = append(errs, fmt.Errorf("anyOf: invalid role %q", role))
			}
		}
	case AccessPublic, AccessAuthenticated, AccessDeny:
		if len(r.AnyOf) > 0 {
			errs = append(errs, fmt.Errorf("anyOf is only allowed with access roles (access is %q)", r.Access))
		}
	case "":
		errs = append(errs, errors.New("access is required (public, authenticated, roles or deny)"))
	default:
		errs = append(errs, fmt.Errorf("unknown access %q (public, authenticated, roles or deny)", r.Access))
	}

	switch r.Forward {
	case "":
		if r.Access != AccessDeny {
			r.Forward = ForwardGatewayJWT
		}
	case ForwardGatewayJWT:
	case ForwardAccessToken:
		if r.Access == AccessPublic {
			errs = append(errs, errors.New("forward access-token needs a logged-in user (access authenticated or roles)"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown forward %q (gateway-jwt or access-token)", r.Forward))
	}

	if r.Access == AccessDeny {
		if r.Upstream != "" || r.Forward != "" {
			errs = append(errs, errors.New("access deny takes no upstream or forward"))
		}
	} else if r.Upstream == "" {
		errs = append(errs, errors.New("upstream is required (it becomes the token audience)"))
	} else if strings.ContainsFunc(r.Upstream, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		errs = append(errs, fmt.Errorf("upstream %q: no spaces or control characters", r.Upstream))
	}
	return errs
}

// All returns a copy of the rules in order.
func (rs *Rules) All() []Rule {
	return slices.Clone(rs.rules)
}

// Hash is the content hash of the document the rules were parsed from
// (HashOf): it tells a changed rules file from an unchanged one, and names
// the rules in force in the logs.
func (rs *Rules) Hash() string { return rs.hash }

// Len returns the number of rules.
func (rs *Rules) Len() int { return len(rs.rules) }

// Match returns the first rule matching the request. path must already be
// normalised (NormalizePath); host may carry a port. Methods compare
// case-insensitively, and a rule listing GET also matches HEAD (a HEAD
// response is the GET response without a body, so it must get the same rule
// rather than fall through to a later, possibly more permissive one). No
// match means deny.
func (rs *Rules) Match(host, method, path string) (*Rule, bool) {
	host = canonicalHost(host)
	var segs [16]string
	ps := splitInto(segs[:0], path)
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.matchesMethod(method) && r.host.match(host) && r.path.match(ps) {
			return r, true
		}
	}
	return nil, false
}

func (r *Rule) matchesMethod(method string) bool {
	if len(r.methods) == 0 {
		return true
	}
	for _, m := range r.methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// NeedsSession reports whether the rule needs a logged-in user.
func (r *Rule) NeedsSession() bool {
	return r.Access == AccessAuthenticated || r.Access == AccessRoles
}

// Allows reports whether a user with the given roles satisfies the rule's
// access. Deny rules allow nobody; public and authenticated rules allow any
// roles (the caller checks that a user is logged in for authenticated rules).
// Role names compare exactly.
func (r *Rule) Allows(roles []string) bool {
	switch r.Access {
	case AccessPublic, AccessAuthenticated:
		return true
	case AccessRoles:
		for _, want := range r.AnyOf {
			if slices.Contains(roles, want) {
				return true
			}
		}
	}
	return false
}

// splitInto appends p's segments to dst without allocating when dst has room.
func splitInto(dst []string, p string) []string {
	if p == "/" || p == "" {
		return dst
	}
	start := 1
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			dst = append(dst, p[start:i])
			start = i + 1
		}
	}
	return append(dst, p[start:])
}
