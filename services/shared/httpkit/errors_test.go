package httpkit

import (
	"errors"
	"strconv"
	"testing"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{in: "1", want: 1, ok: true},
		{in: "42", want: 42, ok: true},
		{in: "999999999999999999", want: 999999999999999999, ok: true},
		{in: "1000000000000000000"},
		{in: "0"},
		{in: "01"},
		{in: "-1"},
		{in: "+1"},
		{in: " 1"},
		{in: "1x"},
		{in: "abc"},
		{in: ""},
		{in: "1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseID(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("ParseID(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadID) {
				t.Fatalf("err = %v, want ErrBadID", err)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "01", "-5", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseID(s)
		if err != nil {
			return
		}
		if n <= 0 || strconv.FormatInt(n, 10) != s {
			t.Fatalf("ParseID(%q) = %d: not canonical", s, n)
		}
	})
}
