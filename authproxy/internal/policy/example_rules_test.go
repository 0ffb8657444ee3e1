package policy

import "testing"

// TestExampleRules checks authproxy/rules.example.yaml (the rules make run
// uses) by method and path: reads stay as they were, every write needs a
// role, and anything else is denied. Each refused case would pass if its
// rule were missing, loosened or reordered.
func TestExampleRules(t *testing.T) {
	t.Parallel()
	rs, err := Load("../../rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var (
		anonymous = []string(nil)
		customer  = []string{"user"}
		manager   = []string{"branch-manager"}
		admin     = []string{"admin"}
	)
	tests := []struct {
		name         string
		method, path string
		roles        []string
		loggedIn     bool
		allowed      bool
		rule         string // "" = no rule matches (denied)
	}{
		{name: "anyone lists products", method: "GET", path: "/products", roles: anonymous, allowed: true, rule: "catalog"},
		{name: "anyone reads a product", method: "GET", path: "/products/7", roles: anonymous, allowed: true, rule: "catalog"},
		{name: "anonymous create refused", method: "POST", path: "/products", roles: anonymous, rule: "catalog-write"},
		{name: "customer create refused", method: "POST", path: "/products", roles: customer, loggedIn: true, rule: "catalog-write"},
		{name: "manager update refused", method: "PUT", path: "/products/7", roles: manager, loggedIn: true, rule: "catalog-write"},
		{name: "admin update", method: "PUT", path: "/products/7", roles: admin, loggedIn: true, allowed: true, rule: "catalog-write"},
		{name: "admin delete", method: "DELETE", path: "/products/7", roles: admin, loggedIn: true, allowed: true, rule: "catalog-write"},
		{name: "PATCH has no rule", method: "PATCH", path: "/products/7", roles: admin, loggedIn: true},
		{name: "customer reads stock refused", method: "GET", path: "/branches/1/products", roles: customer, loggedIn: true, rule: "branch-inventory"},
		{name: "manager reads stock", method: "GET", path: "/branches/1/products", roles: manager, loggedIn: true, allowed: true, rule: "branch-inventory"},
		{name: "manager lists branches", method: "GET", path: "/branches", roles: manager, loggedIn: true, allowed: true, rule: "branch-list"},
		{name: "customer lists branches refused", method: "GET", path: "/branches", roles: customer, loggedIn: true, rule: "branch-list"},
		{name: "customer sets stock refused", method: "PUT", path: "/branches/1/products/4", roles: customer, loggedIn: true, rule: "branch-stock-write"},
		{name: "anonymous sets stock refused", method: "PUT", path: "/branches/1/products/4", roles: anonymous, rule: "branch-stock-write"},
		{name: "manager sets stock", method: "PUT", path: "/branches/1/products/4", roles: manager, loggedIn: true, allowed: true, rule: "branch-stock-write"},
		{name: "admin adjusts stock", method: "POST", path: "/branches/2/products/4/adjustments", roles: admin, loggedIn: true, allowed: true, rule: "branch-stock-adjust"},
		{name: "customer adjusts stock refused", method: "POST", path: "/branches/2/products/4/adjustments", roles: customer, loggedIn: true, rule: "branch-stock-adjust"},
		{name: "DELETE of stock has no rule", method: "DELETE", path: "/branches/1/products/4", roles: admin, loggedIn: true},
		{name: "POST to a stock row has no rule", method: "POST", path: "/branches/1/products/4", roles: admin, loggedIn: true},
		{name: "unknown path has no rule", method: "GET", path: "/admin", roles: admin, loggedIn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, ok := rs.Match("shop.example", tt.method, tt.path)
			if tt.rule == "" {
				if ok {
					t.Fatalf("%s %s matched rule %q, want no rule", tt.method, tt.path, r.Name)
				}
				return
			}
			if !ok || r.Name != tt.rule {
				t.Fatalf("%s %s: matched %v, want rule %q", tt.method, tt.path, r, tt.rule)
			}
			allowed := r.Allows(tt.roles) && (tt.loggedIn || !r.NeedsSession())
			if allowed != tt.allowed {
				t.Fatalf("%s %s with roles %v: allowed = %v, want %v", tt.method, tt.path, tt.roles, allowed, tt.allowed)
			}
		})
	}
}
