package jwtauth

import (
	"errors"
	"strings"
	"testing"
)

const sampleJWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_"

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		header  string
		want    string
		wantErr error
	}{
		{name: "canonical", header: "Bearer " + sampleJWT, want: sampleJWT},
		{name: "lower-case scheme accepted", header: "bearer " + sampleJWT, want: sampleJWT},
		{name: "upper-case scheme accepted", header: "BEARER " + sampleJWT, want: sampleJWT},
		{name: "empty", header: "", wantErr: ErrNoToken},
		{name: "Basic", header: "Basic dXNlcjpwYXNz", wantErr: ErrNoToken},
		{name: "scheme only other", header: "Negotiate", wantErr: ErrNoToken},
		{name: "Bearer alone", header: "Bearer", wantErr: ErrMalformed},
		{name: "Bearer space", header: "Bearer ", wantErr: ErrMalformed},
		{name: "extra part", header: "Bearer " + sampleJWT + " x", wantErr: ErrMalformed},
		{name: "two spaces", header: "Bearer  " + sampleJWT, wantErr: ErrMalformed},
		{name: "tab separator", header: "Bearer\t" + sampleJWT, wantErr: ErrNoToken},
		{name: "trailing space", header: "Bearer " + sampleJWT + " ", wantErr: ErrMalformed},
		{name: "two segments", header: "Bearer a.b", wantErr: ErrMalformed},
		{name: "empty signature (alg none)", header: "Bearer a.b.", wantErr: ErrMalformed},
		{name: "empty header segment", header: "Bearer .b.c", wantErr: ErrMalformed},
		{name: "padding", header: "Bearer a.b.c=", wantErr: ErrMalformed},
		{name: "standard base64 chars", header: "Bearer a+.b/.c", wantErr: ErrMalformed},
		{name: "opaque token", header: "Bearer abcdef", wantErr: ErrMalformed},
		{name: "too large", header: "Bearer a.b." + strings.Repeat("c", MaxTokenSize), wantErr: ErrTooLarge},
		{name: "64 KiB", header: "Bearer a.b." + strings.Repeat("c", 64<<10), wantErr: ErrTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BearerToken(tt.header)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if got != "" {
					t.Fatalf("token %q returned with an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "bearer a.b.c", "Bearer " + sampleJWT, "Basic x", "Bearer a.b.c d", "Bearer a..c", "BeArEr a.b.c", "Bearer\x00a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := BearerToken(header)
		if err != nil {
			if tok != "" {
				t.Fatalf("token returned with error")
			}
			if !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v wraps neither ErrNoToken nor ErrMalformed", err)
			}
			return
		}
		if !strings.EqualFold(header, "Bearer "+tok) {
			t.Fatalf("header %q gave token %q", header, tok)
		}
		if len(tok) > MaxTokenSize || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \t=+/") {
			t.Fatalf("accepted bad token %q", tok)
		}
		for _, seg := range strings.Split(tok, ".") {
			if seg == "" {
				t.Fatalf("accepted empty segment in %q", tok)
			}
		}
	})
}
