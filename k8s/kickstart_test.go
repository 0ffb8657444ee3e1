// Package k8s_test checks the development Kubernetes data under k8s/: the FusionAuth kickstart
// parses, references only variables it defines (or FusionAuth's built-ins), and sets up what the
// rest of gatewarden relies on (the Gateway application, its roles, the RS256 key, the populate
// lambda and the dev users that hack/devidp serves too).
package k8s_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const kickstartPath = "fusionauth/kickstart.json"

// kickstart mirrors the documented top-level shape of a kickstart file; decoding rejects
// anything else.
type kickstart struct {
	Variables map[string]string `json:"variables"`
	APIKeys   []struct {
		Key         string          `json:"key"`
		Description string          `json:"description"`
		Permissions json.RawMessage `json:"permissions"`
		TenantID    string          `json:"tenantId"`
		KeyManager  bool            `json:"keyManager"`
	} `json:"apiKeys"`
	Requests []request `json:"requests"`
	Settings *struct {
		ConnectTimeout int `json:"connectTimeout"`
		ReadTimeout    int `json:"readTimeout"`
	} `json:"settings"`
	LicenseID string `json:"licenseId"`
	License   string `json:"license"`
}

type request struct {
	Method      string          `json:"method"`
	URL         string          `json:"url"`
	TenantID    string          `json:"tenantId"`
	ContentType string          `json:"contentType"`
	Body        json.RawMessage `json:"body"`
}

// builtin matches the variables FusionAuth provides without a definition, the ENV. prefix and
// the UUID() function.
var builtin = regexp.MustCompile(`^(FUSIONAUTH_APPLICATION_ID|FUSIONAUTH_TENANT_ID|TENANT_MANAGER_ID|FUSIONAUTH_DEFAULT_SIGNING_KEY_ID|FUSIONAUTH_FORM\[[A-Za-z]+\]_ID|FUSIONAUTH_LAMBDA\[[A-Za-z0-9]+\]_ID|ENV\.[A-Za-z_][A-Za-z0-9_]*|UUID\(\))$`)

// reference finds #{name} references, skipping the escaped form \#{.
var reference = regexp.MustCompile(`(^|[^\\])#\{([^}]*)\}`)

func readKickstart(t *testing.T) ([]byte, kickstart) {
	t.Helper()
	raw, err := os.ReadFile(kickstartPath)
	if err != nil {
		t.Fatalf("read kickstart: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var k kickstart
	if err := dec.Decode(&k); err != nil {
		t.Fatalf("%s: not a kickstart file: %v", kickstartPath, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the JSON object", kickstartPath)
	}
	return raw, k
}

func references(s string) []string {
	var names []string
	for _, m := range reference.FindAllStringSubmatch(s, -1) {
		names = append(names, m[2])
	}
	return names
}

func TestKickstartReferencesOnlyDefinedVariables(t *testing.T) {
	t.Parallel()
	raw, k := readKickstart(t)

	// Variables may use built-ins (ENV., UUID()) but not each other: FusionAuth resolves
	// variables once, in no promised order.
	for name, value := range k.Variables {
		for _, ref := range references(value) {
			if !builtin.MatchString(ref) {
				t.Errorf("variable %q refers to #{%s}, which is not a built-in", name, ref)
			}
		}
	}

	// Everything outside "variables" may only use defined variables and built-ins.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for section, body := range doc {
		if section == "variables" {
			continue
		}
		for _, ref := range references(string(body)) {
			used[ref] = true
			if _, ok := k.Variables[ref]; !ok && !builtin.MatchString(ref) {
				t.Errorf("%s: #{%s} is neither defined in variables nor a FusionAuth built-in", section, ref)
			}
		}
	}
	for name := range k.Variables {
		// defaultTenantId is read by FusionAuth itself (it renames the default tenant).
		if name != "defaultTenantId" && !used[name] {
			t.Errorf("variable %q is defined but never used", name)
		}
	}
}

func TestKickstartShape(t *testing.T) {
	t.Parallel()
	_, k := readKickstart(t)

	if len(k.APIKeys) == 0 {
		t.Fatal("kickstart needs at least one API key")
	}
	if first := k.APIKeys[0]; len(first.Permissions) > 0 || first.TenantID != "" {
		t.Error("the first API key must be global (no permissions, no tenantId): kickstart runs every request with it")
	}
	for i, r := range k.Requests {
		if !slices.Contains([]string{"POST", "PUT", "PATCH"}, r.Method) {
			t.Errorf("request %d: method %q; kickstart supports POST, PUT and PATCH only", i, r.Method)
		}
		if !strings.HasPrefix(r.URL, "/api/") {
			t.Errorf("request %d: url %q does not start with /api/", i, r.URL)
		}
		if len(r.Body) == 0 || !json.Valid(r.Body) {
			t.Errorf("request %d (%s %s): missing or invalid body", i, r.Method, r.URL)
		}
	}
}

// resolve replaces #{var} with its value (built-ins stay as they are).
func resolve(vars map[string]string, s string) string {
	return reference.ReplaceAllStringFunc(s, func(m string) string {
		sub := reference.FindStringSubmatch(m)
		if v, ok := vars[sub[2]]; ok {
			return sub[1] + v
		}
		return m
	})
}

func findRequest(t *testing.T, k kickstart, method, url string) json.RawMessage {
	t.Helper()
	for _, r := range k.Requests {
		if r.Method == method && resolve(k.Variables, r.URL) == url {
			return json.RawMessage(resolve(k.Variables, string(r.Body)))
		}
	}
	t.Fatalf("no %s %s request in the kickstart", method, url)
	return nil
}

func decodeBody(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode request body: %v", err)
	}
}

// The contract with the rest of gatewarden: the same ids, secret and users as hack/devidp.
const (
	applicationID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	clientSecret  = "dev-client-secret"
	tenantID      = "d7d09513-a3f5-401c-9685-34ab6c552453"
	issuer        = "http://fusionauth.localhost:9011"
)

func TestKickstartGatewayApplication(t *testing.T) {
	t.Parallel()
	_, k := readKickstart(t)

	if got := k.Variables["defaultTenantId"]; got != tenantID {
		t.Errorf("defaultTenantId = %q, want %q", got, tenantID)
	}

	var tenant struct {
		Tenant struct {
			Issuer string `json:"issuer"`
		} `json:"tenant"`
	}
	decodeBody(t, findRequest(t, k, "PATCH", "/api/tenant/"+tenantID), &tenant)
	if tenant.Tenant.Issuer != issuer {
		t.Errorf("tenant issuer = %q, want %q", tenant.Tenant.Issuer, issuer)
	}

	var app struct {
		Application struct {
			Name  string `json:"name"`
			Roles []struct {
				Name string `json:"name"`
			} `json:"roles"`
			OAuth struct {
				ClientSecret           string   `json:"clientSecret"`
				AuthorizedRedirectURLs []string `json:"authorizedRedirectURLs"`
				LogoutURL              string   `json:"logoutURL"`
				EnabledGrants          []string `json:"enabledGrants"`
				GenerateRefreshTokens  bool     `json:"generateRefreshTokens"`
				RequireRegistration    bool     `json:"requireRegistration"`
				PKCEPolicy             string   `json:"proofKeyForCodeExchangePolicy"`
			} `json:"oauthConfiguration"`
			JWT struct {
				Enabled          bool   `json:"enabled"`
				AccessTokenKeyID string `json:"accessTokenKeyId"`
			} `json:"jwtConfiguration"`
			Lambda struct {
				AccessTokenPopulateID string `json:"accessTokenPopulateId"`
			} `json:"lambdaConfiguration"`
		} `json:"application"`
	}
	decodeBody(t, findRequest(t, k, "POST", "/api/application/"+applicationID), &app)
	a := app.Application
	var roles []string
	for _, r := range a.Roles {
		roles = append(roles, r.Name)
	}
	slices.Sort(roles)
	if want := []string{"admin", "branch-manager", "user"}; !slices.Equal(roles, want) {
		t.Errorf("roles = %v, want %v", roles, want)
	}
	if a.OAuth.ClientSecret != clientSecret {
		t.Errorf("client secret = %q, want %q", a.OAuth.ClientSecret, clientSecret)
	}
	if !slices.Contains(a.OAuth.AuthorizedRedirectURLs, "http://localhost/oauth2/callback") {
		t.Errorf("redirect URLs %v lack the kind gateway's callback", a.OAuth.AuthorizedRedirectURLs)
	}
	// post_logout_redirect_uri must be an authorized redirect URL.
	if !slices.Contains(a.OAuth.AuthorizedRedirectURLs, a.OAuth.LogoutURL) {
		t.Errorf("logout URL %q is not an authorized redirect URL", a.OAuth.LogoutURL)
	}
	for _, g := range []string{"authorization_code", "refresh_token"} {
		if !slices.Contains(a.OAuth.EnabledGrants, g) {
			t.Errorf("grant %q not enabled (grants %v)", g, a.OAuth.EnabledGrants)
		}
	}
	if !a.OAuth.GenerateRefreshTokens || !a.OAuth.RequireRegistration {
		t.Errorf("generateRefreshTokens=%v requireRegistration=%v, want both true", a.OAuth.GenerateRefreshTokens, a.OAuth.RequireRegistration)
	}
	if a.OAuth.PKCEPolicy != "Required" {
		t.Errorf("PKCE policy = %q, want Required", a.OAuth.PKCEPolicy)
	}

	// The access-token key is generated as RS256 and used by the application.
	var key struct {
		Key struct {
			Algorithm string `json:"algorithm"`
		} `json:"key"`
	}
	decodeBody(t, findRequest(t, k, "POST", "/api/key/generate/"+a.JWT.AccessTokenKeyID), &key)
	if !a.JWT.Enabled || key.Key.Algorithm != "RS256" {
		t.Errorf("application JWT enabled=%v with key algorithm %q, want enabled RS256", a.JWT.Enabled, key.Key.Algorithm)
	}

	// The populate lambda exists, is a JWTPopulate lambda and sets the branches claim.
	var lambda struct {
		Lambda struct {
			Type string `json:"type"`
			Body string `json:"body"`
		} `json:"lambda"`
	}
	decodeBody(t, findRequest(t, k, "POST", "/api/lambda/"+a.Lambda.AccessTokenPopulateID), &lambda)
	if lambda.Lambda.Type != "JWTPopulate" || !strings.Contains(lambda.Lambda.Body, "jwt.branches") {
		t.Errorf("populate lambda: type %q, sets branches: %v", lambda.Lambda.Type, strings.Contains(lambda.Lambda.Body, "jwt.branches"))
	}
}

func TestKickstartUsers(t *testing.T) {
	t.Parallel()
	_, k := readKickstart(t)

	type registration struct {
		ApplicationID string   `json:"applicationId"`
		Roles         []string `json:"roles"`
		Data          struct {
			Branches []string `json:"branches"`
		} `json:"data"`
	}
	type body struct {
		User *struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		} `json:"user"`
		Registration *registration `json:"registration"`
	}
	users := map[string]*registration{} // email -> Gateway registration (nil: not registered)
	ids := map[string]string{}          // user id -> email
	for _, r := range k.Requests {
		url := resolve(k.Variables, r.URL)
		if !strings.HasPrefix(url, "/api/user/") {
			continue
		}
		var b body
		decodeBody(t, json.RawMessage(resolve(k.Variables, string(r.Body))), &b)
		id := filepath.Base(url)
		if b.User != nil {
			if want := strings.SplitN(b.User.Email, "@", 2)[0] + "-pass"; b.User.Password != want {
				t.Errorf("%s: password %q, want %q", b.User.Email, b.User.Password, want)
			}
			ids[id] = b.User.Email
			if _, ok := users[b.User.Email]; !ok {
				users[b.User.Email] = nil
			}
		}
		if b.Registration != nil && b.Registration.ApplicationID == applicationID {
			users[ids[id]] = b.Registration
		}
	}

	tests := []struct {
		name       string
		email      string
		registered bool
		roles      []string
		branches   []string
	}{
		{name: "admin", email: "admin@example.com", registered: true, roles: []string{"admin"}},
		{name: "branch manager of branch 1", email: "manager@example.com", registered: true, roles: []string{"branch-manager"}, branches: []string{"1"}},
		{name: "customer", email: "customer@example.com", registered: true, roles: []string{"user"}},
		{name: "outsider is not registered", email: "outsider@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, exists := users[tt.email]
			if !exists {
				t.Fatalf("user %s is not created", tt.email)
			}
			if (reg != nil) != tt.registered {
				t.Fatalf("registered to the Gateway application = %v, want %v", reg != nil, tt.registered)
			}
			if reg == nil {
				return
			}
			if !slices.Equal(reg.Roles, tt.roles) {
				t.Errorf("roles = %v, want %v", reg.Roles, tt.roles)
			}
			if !slices.Equal(reg.Data.Branches, tt.branches) {
				t.Errorf("branches = %v, want %v", reg.Data.Branches, tt.branches)
			}
		})
	}
}

func TestReferenceDetection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "plain", in: `"#{a}"`, want: []string{"a"}},
		{name: "two", in: `"#{a}/x/#{b}"`, want: []string{"a", "b"}},
		{name: "escaped", in: `"\#{a}"`, want: nil},
		{name: "builtin", in: `"#{ENV.X}"`, want: []string{"ENV.X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := references(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("references(%s) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	for _, ok := range []string{"FUSIONAUTH_APPLICATION_ID", "ENV.FUSIONAUTH_API_KEY", "UUID()", "FUSIONAUTH_LAMBDA[GoogleReconcile]_ID"} {
		if !builtin.MatchString(ok) {
			t.Errorf("%s should be a built-in", ok)
		}
	}
	for _, bad := range []string{"apiKey", "ENV.", "UUID", "FUSIONAUTH_SOMETHING"} {
		if builtin.MatchString(bad) {
			t.Errorf("%s should not be a built-in", bad)
		}
	}
}
