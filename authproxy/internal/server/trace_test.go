package server

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatewarden/gatewarden/hack/testkit/spantest"
)

// TestDecisionSpans: with a tracer, every decision has an
// "authproxy.decision" span with its rule and outcome, a minted token a
// "token.mint" child, and no span name or attribute carries the cookie,
// the bearer token, the query string or the forwarded token.
func TestDecisionSpans(t *testing.T) {
	t.Parallel()
	tp, exp := spantest.New(t)
	e, ps := newEnv(t, envOpts{fakeIdP: true, tracer: tp.Tracer("test")})
	p := ps[0]
	admin, _ := e.sessionFor("admin@example.com")
	customer, cs := e.sessionFor("customer@example.com")
	const query = "secret-query=s3cr3t"
	tests := []struct {
		name    string
		req     fwd
		status  int
		rule    string
		outcome string
		mint    bool
	}{
		{name: "roles admin", req: fwd{uri: "/admin/x?" + query, cookie: admin}, status: 200, rule: "admin", outcome: outcomeAllow, mint: true},
		{name: "roles customer forbidden", req: fwd{uri: "/admin/x?" + query, cookie: customer}, status: 403, rule: "admin", outcome: "forbidden"},
		{name: "bearer access token", req: fwd{uri: "/account/me?" + query, bearer: cs.AccessToken}, status: 200, rule: "account", outcome: outcomeAllow, mint: true},
		{name: "bearer garbage", req: fwd{uri: "/account/me?" + query, bearer: "not.a.token"}, status: 401, rule: "account", outcome: "unauthenticated"},
		{name: "no rule", req: fwd{uri: "/nowhere?" + query, cookie: admin}, status: 403, rule: "", outcome: "no_rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each case reads the exporter's spans.
			exp.Reset()
			resp, body := tt.req.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			spans := exp.GetSpans()
			var decision, mint *tracetest.SpanStub
			for i := range spans {
				switch spans[i].Name {
				case spanDecision:
					decision = &spans[i]
				case spanMint:
					mint = &spans[i]
				}
			}
			if decision == nil {
				t.Fatalf("no %s span among %d", spanDecision, len(spans))
			}
			attrs := map[string]string{}
			for _, kv := range decision.Attributes {
				attrs[string(kv.Key)] = kv.Value.Emit()
			}
			if attrs["gatewarden.rule"] != tt.rule || attrs["gatewarden.outcome"] != tt.outcome {
				t.Errorf("decision attributes %v, want rule %q outcome %q", attrs, tt.rule, tt.outcome)
			}
			if (mint != nil) != tt.mint {
				t.Errorf("mint span %v, want one: %v", mint != nil, tt.mint)
			}
			if mint != nil && mint.Parent.SpanID() != decision.SpanContext.SpanID() {
				t.Errorf("mint span's parent %s, want the decision %s", mint.Parent.SpanID(), decision.SpanContext.SpanID())
			}
			secrets := []string{"s3cr3t", "secret-query", tt.req.cookie, tt.req.bearer}
			if tok := resp.Header.Get("Authorization"); tok != "" {
				secrets = append(secrets, strings.TrimPrefix(tok, "Bearer "))
			}
			for _, s := range spans {
				texts := []string{s.Name, s.Status.Description}
				for _, kv := range s.Attributes {
					texts = append(texts, string(kv.Key), kv.Value.Emit())
				}
				for _, text := range texts {
					for _, secret := range secrets {
						if secret != "" && strings.Contains(text, secret) {
							t.Errorf("span %q carries a secret in %q", s.Name, text)
						}
					}
					if strings.Contains(strings.ToLower(text), "authorization") || strings.Contains(strings.ToLower(text), "cookie") {
						t.Errorf("span %q mentions a credential header: %q", s.Name, text)
					}
				}
			}
		})
	}
}
