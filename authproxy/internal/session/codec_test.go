package session

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jwtLike is n characters of the base64url alphabet with dots, like a JWT.
func jwtLike(n int) string {
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	for i := range n {
		if i%300 == 299 {
			b.WriteByte('.')
			continue
		}
		b.WriteByte(abc[(i*7)%len(abc)])
	}
	return b.String()
}

// realisticSession has about the sizes of a FusionAuth login: RS256 access
// and id tokens of about 1 KB each, an opaque refresh token.
func realisticSession() *Session {
	now := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	return &Session{
		UserID: "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a", Email: "admin@example.com", Name: "Ada Admin",
		Roles: []string{"admin"}, TenantID: "d7d09513-a3f5-401c-9685-34ab6c552453", Branches: []string{"1", "2"},
		AccessToken: jwtLike(1100), RefreshToken: jwtLike(64), IDToken: jwtLike(1000),
		AccessExpiry: now.Add(time.Hour), CreatedAt: now, LastSeen: now.Add(time.Minute),
	}
}

func TestDecodeSession(t *testing.T) {
	t.Parallel()
	withName := func(name string) *Session {
		s := realisticSession()
		s.Name = name
		return s
	}
	local := realisticSession()
	local.CreatedAt = local.CreatedAt.In(time.FixedZone("X", 2*3600))
	tests := []struct {
		name      string
		in        *Session
		raw       string // used when in is nil
		canonical bool   // the fast path must take it
		wantErr   bool
	}{
		{name: "realistic", in: realisticSession(), canonical: true},
		{name: "minimal", in: &Session{UserID: "u"}, canonical: true},
		{name: "utf-8 name", in: withName("Zoë Ñúñez 🦊"), canonical: true},
		{name: "time zone offset", in: local, canonical: true},
		{name: "quotes in name (escaped)", in: withName(`Ada "the" <Admin> & co\`)},
		{name: "control character (escaped)", in: withName("a\tb")},
		{name: "invalid utf-8 (replaced)", in: withName("a\xffb")},
		{name: "raw DEL past the first eight bytes", raw: "{\"uid\":\"0123456789abcdef\x7f\"}", canonical: true},
		{name: "raw control character past the first eight bytes", raw: "{\"uid\":\"0123456789abcdef\x01\"}", wantErr: true},
		{name: "raw invalid utf-8 past the first eight bytes", raw: "{\"uid\":\"0123456789abcdef\xff\"}"},
		{name: "raw utf-8 past the first eight bytes", raw: "{\"uid\":\"0123456789abcdefZoë\"}", canonical: true},
		{name: "empty object", raw: `{}`, canonical: true},
		{name: "whitespace", raw: `{ "uid": "u" }`},
		{name: "unknown key", raw: `{"uid":"u","x":1}`},
		{name: "other case key", raw: `{"UID":"u"}`},
		{name: "empty list", raw: `{"uid":"u","roles":[]}`},
		{name: "null list", raw: `{"uid":"u","roles":null}`},
		{name: "duplicate key", raw: `{"uid":"a","uid":"b","roles":["x","y"],"roles":["z"]}`, canonical: true},
		{name: "trailing data", raw: `{"uid":"u"}x`, wantErr: true},
		{name: "truncated", raw: `{"uid":"u"`, wantErr: true},
		{name: "bad time", raw: `{"uid":"u","cat":"yesterday"}`, wantErr: true},
		{name: "not an object", raw: `[]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tt.raw)
			if tt.in != nil {
				var err error
				if raw, err = encodeSession(tt.in); err != nil {
					t.Fatal(err)
				}
			}
			var fast Session
			if got := decodeCanonical(raw, &fast); got != tt.canonical {
				t.Fatalf("fast path took it = %v, want %v", got, tt.canonical)
			}
			var got, want Session
			err := decodeSession(raw, &got)
			wantErr := json.Unmarshal(raw, &want)
			if (err != nil) != tt.wantErr || (wantErr != nil) != tt.wantErr {
				t.Fatalf("decode error %v, encoding/json error %v, want error = %v", err, wantErr, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeSession = %#v\nencoding/json = %#v", got, want)
			}
			if tt.in != nil && !got.LastSeen.Equal(tt.in.LastSeen) {
				t.Fatalf("LastSeen %v, want %v", got.LastSeen, tt.in.LastSeen)
			}
		})
	}
}

// FuzzDecodeSession: whatever the fast path accepts, encoding/json decodes
// to the same Session.
func FuzzDecodeSession(f *testing.F) {
	for _, s := range []*Session{realisticSession(), {UserID: "u"}, {UserID: "ü", Roles: []string{"a", "b"}}} {
		b, _ := encodeSession(s)
		f.Add(b)
	}
	f.Add([]byte(`{"uid":"a","uid":"b","roles":["x"],"roles":["y","z"]}`))
	f.Add([]byte(`{"uid":"\u00fc"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast, want Session
		if !decodeCanonical(raw, &fast) {
			return
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", raw, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("input %q\nfast          %#v\nencoding/json %#v", raw, fast, want)
		}
	})
}

// BenchmarkOpenSession is Load's CPU work after the GET: parse the cookie,
// derive the key, decrypt and decode a realistic record.
func BenchmarkOpenSession(b *testing.B) {
	cookie, p := newCookie()
	st := &RedisStore{prefix: DefaultPrefix}
	key := st.sessionKey(p)
	raw, err := st.sealSession(p, key, realisticSession())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := parseCookie(cookie)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := openSession(p, st.sessionKey(p), raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSession compares the canonical decoder with encoding/json
// on the same record.
func BenchmarkDecodeSession(b *testing.B) {
	raw, err := encodeSession(realisticSession())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s Session
			if err := decodeSession(raw, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s Session
			if err := json.Unmarshal(raw, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeSessionCoversEveryField fills every field of Session with a
// value that is not its zero value and requires the fast path to take the
// record and agree with encoding/json: a field added to Session without
// being taught to decodeCanonical fails here, instead of silently sending
// every decision down the slow path.
func TestDecodeSessionCoversEveryField(t *testing.T) {
	t.Parallel()
	var full Session
	v := reflect.ValueOf(&full).Elem()
	stamp := time.Date(2026, 11, 30, 12, 0, 0, 1, time.UTC)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Interface().(type) {
		case string:
			f.SetString(name + "-value")
		case []string:
			f.Set(reflect.ValueOf([]string{name + "-1", name + "-2"}))
		case time.Time:
			f.Set(reflect.ValueOf(stamp.Add(time.Duration(i) * time.Minute)))
		default:
			t.Fatalf("Session.%s has type %s, which this test (and decodeCanonical) does not know", name, f.Type())
		}
	}
	raw, err := encodeSession(&full)
	if err != nil {
		t.Fatal(err)
	}
	var fast Session
	if !decodeCanonical(raw, &fast) {
		t.Fatalf("the canonical decoder refuses a record with every field set: teach decodeCanonical the new field\n%s", raw)
	}
	if !reflect.DeepEqual(fast, full) {
		t.Fatalf("decodeCanonical = %#v\nwant            %#v", fast, full)
	}
}
