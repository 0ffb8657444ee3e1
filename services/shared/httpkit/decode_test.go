package httpkit

import (
	"errors"
	"strings"
	"testing"
)

type decodeTarget struct {
	Name     string `json:"name"`
	Quantity *int   `json:"quantity"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; "" = ok
	}{
		{name: "ok", body: `{"name":"a","quantity":2}`},
		{name: "spaces around", body: " \n{\"name\":\"a\"} \n"},
		{name: "empty", body: ``, wantErr: "want a JSON object"},
		{name: "array", body: `[1]`, wantErr: "want a JSON object"},
		{name: "unknown field", body: `{"nam":"a"}`, wantErr: `unknown field "nam"`},
		{name: "wrong type", body: `{"quantity":"2"}`, wantErr: `field "quantity" has the wrong type`},
		{name: "two values", body: `{"name":"a"}{"name":"b"}`, wantErr: "more than one JSON value"},
		{name: "truncated", body: `{"name":`, wantErr: "malformed JSON"},
		{name: "too large", body: `{"name":"` + strings.Repeat("x", MaxJSONBody) + `"}`, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v decodeTarget
			err := DecodeJSON(strings.NewReader(tt.body), &v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadJSON) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeJSON = %v, want ErrBadJSON containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeJSON: never panics, and any error wraps ErrBadJSON and does not
// echo long input back.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","quantity":1}`, `{`, `[]`, `{"quantity":1e400}`, `{"x":1}`, `{} {}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v decodeTarget
		err := DecodeJSON(strings.NewReader(body), &v)
		if err != nil && !errors.Is(err, ErrBadJSON) {
			t.Fatalf("error does not wrap ErrBadJSON: %v", err)
		}
	})
}
