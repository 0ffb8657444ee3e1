package jwtauth

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBranchesUnmarshal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		in      string
		want    Branches
		wantErr bool
	}{
		{name: "strings", in: `["1","2"]`, want: Branches{"1", "2"}},
		{name: "numbers", in: `[1, 22]`, want: Branches{"1", "22"}},
		{name: "mixed", in: `[1,"x"]`, want: Branches{"1", "x"}},
		{name: "single string", in: `"7"`, want: Branches{"7"}},
		{name: "single number", in: `7`, want: Branches{"7"}},
		{name: "null", in: `null`, want: nil},
		{name: "empty", in: `[]`, want: Branches{}},
		{name: "bool element", in: `[true]`, wantErr: true},
		{name: "object element", in: `[{"a":1}]`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c struct {
				B Branches `json:"branches"`
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
