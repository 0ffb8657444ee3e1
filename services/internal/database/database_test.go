package database

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		dialect Dialect
		shown   string
		wantErr bool
	}{
		{name: "empty is the embedded default", raw: "", dialect: SQLite, shown: Memory},
		{name: "memory", raw: "sqlite::memory:", dialect: SQLite, shown: Memory},
		{name: "file", raw: "sqlite:/var/lib/catalog.db", dialect: SQLite, shown: "sqlite:/var/lib/catalog.db"},
		{name: "postgres hides the password", raw: "postgres://cat:s3cret@db:5432/catalog?sslmode=require", dialect: Postgres,
			shown: "postgres://cat:xxxxx@db:5432/catalog?sslmode=require"},
		{name: "postgresql scheme", raw: "postgresql://cat@db/catalog", dialect: Postgres, shown: "postgresql://cat@db/catalog"},
		{name: "postgres without host", raw: "postgres:///catalog", wantErr: true},
		{name: "sqlite without file", raw: "sqlite:", wantErr: true},
		{name: "sqlite options are ours", raw: "sqlite:x.db?_pragma=foreign_keys(0)", wantErr: true},
		{name: "unknown scheme", raw: "mysql://db/catalog", wantErr: true},
		{name: "bare path", raw: "/tmp/x.db", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := ParseURL(tt.raw)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidURL) {
					t.Fatalf("ParseURL(%q) = %v, want ErrInvalidURL", tt.raw, err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if src.Dialect != tt.dialect || src.String() != tt.shown || src.LogValue().String() != tt.shown {
				t.Fatalf("ParseURL(%q) = %s %q, want %s %q", tt.raw, src.Dialect, src, tt.dialect, tt.shown)
			}
		})
	}
}

func TestLikePattern(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Mug": "%mug%", "70%": `%70\%%`, "a_b": `%a\_b%`, `c:\x`: `%c:\\x%`} {
		if got := LikePattern(in); got != want {
			t.Errorf("LikePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseURL: never panics; a password given in a postgres URL never
// shows in the parsed source's text or in an error.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"", Memory, "sqlite:x.db", "postgres://u:pw@h/db", "postgresql://u:pw@h:5432/db?sslmode=disable",
		"postgres://u:pw@[::1", "postgres://u:pw@h/%zz", "mysql://x", "sqlite:?"} {
		f.Add(s, "pw")
	}
	f.Fuzz(func(t *testing.T, raw, password string) {
		if len(password) < 6 || strings.ContainsAny(password, "@/:?#[]%") {
			password = "s3cretpassw0rd"
		}
		raw = strings.ReplaceAll(raw, ":pw@", ":"+password+"@") // the password part of user:password@
		src, err := ParseURL(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error does not wrap ErrInvalidURL: %v", err)
			}
			if strings.HasPrefix(raw, "postgres") && strings.Contains(raw, ":"+password+"@") && strings.Contains(err.Error(), password) {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if src.Dialect == Postgres && strings.Contains(raw, ":"+password+"@") && strings.Contains(src.String(), password) {
			t.Fatalf("String() shows the password: %s", src)
		}
	})
}
