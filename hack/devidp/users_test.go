package devidp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultUsers(t *testing.T) {
	t.Parallel()
	users := DefaultUsers()
	byEmail := map[string]User{}
	for _, u := range users {
		byEmail[u.Email] = u
	}
	if len(users) != 4 {
		t.Fatalf("%d users, want 4", len(users))
	}
	if u := byEmail["outsider@example.com"]; u.Registration != nil {
		t.Errorf("outsider is registered: %+v", u.Registration)
	}
	if u := byEmail["manager@example.com"]; u.Registration == nil || u.Registration.Data.Branches[0] != "1" || u.Registration.Roles[0] != "branch-manager" {
		t.Errorf("manager = %+v", u)
	}
	for email, u := range byEmail {
		if want := strings.TrimSuffix(email, "@example.com") + "-pass"; u.Password != want {
			t.Errorf("%s password %q, want %q", email, u.Password, want)
		}
	}
}

func TestDefaultUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email          string
		wantID, wantPassword string
		wantErr              bool
	}{
		{name: "admin", email: "admin@example.com", wantID: "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a", wantPassword: "admin-pass"},
		{name: "any case", email: "Customer@Example.COM", wantID: "4e8d2a1f-3b6c-4d7e-8f90-a1b2c3d4e5f6", wantPassword: "customer-pass"},
		{name: "unknown", email: "nobody@example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := DefaultUser(tt.email)
			if (err != nil) != tt.wantErr || u.ID != tt.wantID || u.Password != tt.wantPassword {
				t.Fatalf("DefaultUser(%q) = %s %q, %v; want %s %q, error %v", tt.email, u.ID, u.Password, err, tt.wantID, tt.wantPassword, tt.wantErr)
			}
		})
	}
}

func TestParseUsersStrict(t *testing.T) {
	t.Parallel()
	const ok = `users:
  - id: 2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a
    email: a@example.com
    password: p
    name: A
`
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // every one must appear in the error
	}{
		{name: "valid", yaml: ok},
		{name: "unknown top-level key", yaml: ok + "extra: 1\n", wantErr: []string{"extra"}},
		{name: "unknown user key", yaml: ok + "    roles: [admin]\n", wantErr: []string{"roles"}},
		{name: "unknown registration key", yaml: ok + "    registration:\n      role: admin\n", wantErr: []string{"role"}},
		{name: "unknown data key", yaml: ok + "    registration:\n      data:\n        branch: [\"1\"]\n", wantErr: []string{"branch"}},
		{name: "duplicate key", yaml: ok + "    name: B\n", wantErr: []string{"name"}},
		{name: "branches as a map", yaml: ok + "    registration:\n      data:\n        branches: {a: 1}\n", wantErr: []string{"branches"}},
		{name: "no users", yaml: "users: []\n", wantErr: []string{"no users"}},
		{name: "empty document", yaml: "", wantErr: []string{"no users"}},
		{name: "every problem at once", yaml: `users:
  - id: not-a-uuid
    email: nope
    password: ""
    name: " "
  - id: not-a-uuid
    email: nope
    password: x
    name: X
    registration:
      roles: [""]
`, wantErr: []string{"not a lower-case UUID", "not an email address", "password is empty", "name is empty", "duplicate id", "duplicate email", "empty role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			users, err := ParseUsers([]byte(tt.yaml))
			if len(tt.wantErr) == 0 {
				if err != nil || len(users) != 1 {
					t.Fatalf("users %v, err %v", users, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNumericBranchesBecomeStrings(t *testing.T) {
	t.Parallel()
	users, err := ParseUsers([]byte(`users:
  - id: 2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a
    email: a@example.com
    password: p
    name: A
    registration:
      data:
        branches: [1, 22]
`))
	if err != nil {
		t.Fatal(err)
	}
	if b := users[0].Registration.Data.Branches; len(b) != 2 || b[0] != "1" || b[1] != "22" {
		t.Fatalf("branches = %q", b)
	}
}

func TestLoadUsersFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, defaultUsersYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadUsers(path)
	if err != nil || len(users) != 4 {
		t.Fatalf("users %d, err %v", len(users), err)
	}
	if _, err := LoadUsers(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file: no error")
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	d := newDirectory(DefaultUsers())
	tests := []struct {
		name, login, password string
		want                  bool
	}{
		{name: "right", login: "admin@example.com", password: "admin-pass", want: true},
		{name: "login id case-insensitive", login: " ADMIN@example.com ", password: "admin-pass", want: true},
		{name: "wrong password", login: "admin@example.com", password: "admin-pass ", want: false},
		{name: "another user's password", login: "admin@example.com", password: "customer-pass", want: false},
		{name: "unknown user", login: "nobody@example.com", password: "admin-pass", want: false},
		{name: "empty", login: "", password: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, ok := d.authenticate(tt.login, tt.password); ok != tt.want {
				t.Fatalf("authenticate = %v, want %v", ok, tt.want)
			}
		})
	}
	for _, u := range d.byID {
		if u.Password != "" {
			t.Errorf("%s: clear-text password kept", u.Email)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{Issuer: "http://127.0.0.1:9011", RedirectURIs: []string{testRedirect}, SigningKey: testKey()}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := Config{
		Issuer:         "127.0.0.1:9011",
		RedirectURIs:   []string{"http://ok.example/cb#frag", "javascript:alert(1)"},
		LogoutURIs:     []string{"/relative"},
		AccessTokenTTL: time.Millisecond,
		Users:          []User{{ID: "x"}},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"issuer", "fragment", `"javascript:alert(1)"`, "logout URI", "access token TTL", "users[0]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if _, err := New(Config{Issuer: "http://127.0.0.1:9011"}); err == nil || !strings.Contains(err.Error(), "redirect URIs") {
		t.Errorf("New without redirect URIs: %v", err)
	}
}

func TestConfigLogValueRedacts(t *testing.T) {
	t.Parallel()
	v := Config{ClientSecret: "s3cret-value"}.LogValue().String()
	if strings.Contains(v, "s3cret-value") {
		t.Fatalf("LogValue leaks the secret: %s", v)
	}
}
