package jwtauth

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestStringListUnmarshal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		in      string
		want    StringList
		wantErr bool
	}{
		{name: "strings", in: `["1","2"]`, want: StringList{"1", "2"}},
		{name: "numbers", in: `[1, 22]`, want: StringList{"1", "22"}},
		{name: "mixed", in: `[1,"x"]`, want: StringList{"1", "x"}},
		{name: "single string", in: `"7"`, want: StringList{"7"}},
		{name: "single number", in: `7`, want: StringList{"7"}},
		{name: "null", in: `null`, want: nil},
		{name: "empty", in: `[]`, want: StringList{}},
		{name: "bool element", in: `[true]`, wantErr: true},
		{name: "object element", in: `[{"a":1}]`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c struct {
				B StringList `json:"branches"`
			}
			err := json.Unmarshal([]byte(`{"branches":`+tt.in+`}`), &c)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %v", c.B)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.B); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHasAnyRole(t *testing.T) {
	t.Parallel()
	c := &Claims{Roles: []string{"user", "branch-manager"}}
	for _, tt := range []struct {
		name  string
		c     *Claims
		roles []string
		want  bool
	}{
		{name: "one matches", c: c, roles: []string{"admin", "branch-manager"}, want: true},
		{name: "none matches", c: c, roles: []string{"admin"}},
		{name: "no roles asked", c: c},
		{name: "nil claims", roles: []string{"user"}},
		{name: "case matters", c: c, roles: []string{"User"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.HasAnyRole(tt.roles...); got != tt.want {
				t.Fatalf("HasAnyRole = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExtra: a service reads its own claims from the verified payload by
// exact name, from a fresh and from a cached verification alike; claims the
// fields read are not extra, and a claim that does not decode is the
// service's error, not a refused token.
func TestExtra(t *testing.T) {
	t.Parallel()
	v := pemHMACVerifier(t, newClock(), 0)
	for _, tt := range []struct {
		name    string
		payload jwt.MapClaims
		claim   string
		want    StringList
		found   bool
		wantErr bool
	}{
		{name: "numbers and strings", payload: with(claims(issHMAC), "branches", []any{1, "2"}), claim: "branches", want: StringList{"1", "2"}, found: true},
		{name: "absent", payload: claims(issHMAC), claim: "branches"},
		{name: "case variant is another claim", payload: with(claims(issHMAC), "Branches", []any{"1"}), claim: "branches"},
		{name: "a field's claim is not extra", payload: claims(issHMAC), claim: "roles"},
		{name: "does not decode", payload: with(claims(issHMAC), "branches", map[string]any{"a": 1}), claim: "branches", found: true, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := sign(t, jwt.SigningMethodHS256, keysA().hmac, "", tt.payload)
			for _, pass := range []string{"verified", "cached"} {
				c, err := v.Verify(context.Background(), tok)
				if err != nil {
					t.Fatalf("%s: Verify: %v", pass, err)
				}
				var got StringList
				found, err := c.Extra(tt.claim, &got)
				if found != tt.found || (err != nil) != tt.wantErr {
					t.Fatalf("%s: Extra = %v, %v; want found %v, error %v", pass, found, err, tt.found, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: claim (-want +got):\n%s", pass, diff)
				}
			}
		})
	}
}
