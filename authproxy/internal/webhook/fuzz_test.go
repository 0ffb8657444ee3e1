package webhook_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
)

// FuzzSignedEvent: any signed body, FusionAuth's shapes among the seeds,
// is answered 204 or 400 (never a panic, never 5xx with the store up).
func FuzzSignedEvent(f *testing.F) {
	for _, b := range [][]byte{
		event("f1", webhook.TypeRefreshTokenRevoke, map[string]any{"applicationId": clientID, "userId": "u1",
			"refreshToken": refreshToken("rtid-a", "rt-a", "u1"), "linkedObjectId": "rtid-a"}),
		event("f2", webhook.TypeRefreshTokenRevoke, map[string]any{"applicationId": clientID}),
		event("f3", webhook.TypeRefreshTokenRevoke, map[string]any{"applicationId": clientID, "userId": "u1", "refreshToken": "rt-a"}),
		event("f4", webhook.TypeRegistrationUpdate, map[string]any{"applicationId": clientID, "user": map[string]any{"id": "u1"}}),
		[]byte(`{"event":{"id":"x","type":"jwt.refresh-token.revoke","refreshToken":null,"linkedObjectId":7}}`),
		[]byte(`{"event":null}`),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st := &store{marks: map[string]bool{}}
		h, err := webhook.New(webhook.Config{Sessions: st, Marks: st, Keys: keys{}, Tokens: &tokens{}, Revoker: &revoker{},
			Application: &application{}, Refresher: &refresher{}, ClientID: clientID, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if w := post(t, h, body); !slices.Contains([]int{http.StatusNoContent, http.StatusBadRequest}, w.Code) {
			t.Fatalf("status %d for %q; body %s", w.Code, body, w.Body)
		}
	})
}
