package jwtauth

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatewarden/gatewarden/hack/testkit/spantest"
)

// TestVerifySpans: with a tracer, a verification is a "jwtauth.verify"
// span under the caller's (error status on a refusal, never the token),
// and a refetch for an unknown kid a "jwtauth.jwks_fetch" span under it.
func TestVerifySpans(t *testing.T) {
	t.Parallel()
	tp, exp := spantest.New(t)
	srv := newJWKSServer(t, defaultJWKS())
	cfg := testConfig(t, newClock(), srv.URL)
	cfg.Tracer = tp.Tracer("test")
	v := newVerifier(t, cfg)
	b := keysB()
	good := sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS))
	unknownKid := sign(t, jwt.SigningMethodRS256, b.rsa, "rotated-away", claims(issJWKS))
	tests := []struct {
		name      string
		token     string
		wantErr   bool
		wantFetch bool
	}{
		{name: "valid", token: good},
		{name: "malformed", token: "not-a-token", wantErr: true},
		{name: "unknown kid refetches", token: unknownKid, wantErr: true, wantFetch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each case reads the exporter's spans.
			exp.Reset()
			ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
			_, err := v.Verify(ctx, tt.token)
			parent.End()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify error %v, want error: %v", err, tt.wantErr)
			}
			var verify, fetch *tracetest.SpanStub
			spans := exp.GetSpans()
			for i := range spans {
				switch spans[i].Name {
				case spanVerify:
					verify = &spans[i]
				case spanJWKSFetch:
					fetch = &spans[i]
				}
			}
			if verify == nil || verify.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Fatalf("no %s span under the caller's among %d", spanVerify, len(spans))
			}
			if (verify.Status.Code == codes.Error) != tt.wantErr {
				t.Errorf("verify status %v, want error: %v", verify.Status, tt.wantErr)
			}
			if (fetch != nil) != tt.wantFetch {
				t.Errorf("fetch span present %v, want %v", fetch != nil, tt.wantFetch)
			}
			if fetch != nil && fetch.Parent.SpanID() != verify.SpanContext.SpanID() {
				t.Errorf("fetch span's parent %s, want the verification %s", fetch.Parent.SpanID(), verify.SpanContext.SpanID())
			}
			sig := tt.token[strings.LastIndexByte(tt.token, '.')+1:]
			for _, s := range spans {
				texts := []string{s.Name, s.Status.Description}
				for _, kv := range s.Attributes {
					texts = append(texts, kv.Value.Emit())
				}
				for _, text := range texts {
					if strings.Contains(text, tt.token) || (len(sig) > 8 && strings.Contains(text, sig)) {
						t.Errorf("span %q carries the token in %q", s.Name, text)
					}
				}
			}
		})
	}
}
