// Package session is authproxy's login-session store: the Session record,
// the Store contract with its sentinel errors, and the Redis implementation
// behind it; and authproxy's one sealing implementation (Sealer), which
// session records and login-state cookies share under distinct purposes.
//
// # Cookie and keys
//
// A session cookie is "id.secret": two independent 32-byte random values,
// each base64url without padding (87 characters in all). Redis never sees
// either: the record lives under a key built from SHA-256(id), and its value
// is the JSON session sealed with AES-256-GCM under
// HKDF-SHA256(secret, salt = SHA-256(id), info = "gatewarden session v1"),
// with the Redis key name as additional data. A Redis dump alone therefore
// yields no token, e-mail or cookie, and a record copied to another key does
// not open there.
//
// Key layout (prefix "gw" by default; hash tags keep each session's keys in
// one Cluster slot):
//
//	gw:{<b64url sha256(id)>}:s              sealed session, TTL = min(absolute left, idle)
//	gw:{<b64url sha256(id)>}:lock           refresh lock (random token, PX ttl)
//	gw:{u:<b64url sha256(user id)>}:idx     sorted set: session hash -> absolute expiry (unix ms)
//	gw:st:<b64url sha256(state)>            used-login-state marker (SET NX at the callback, TTL = state's remaining life)
//	gw:sess:inval                           pub/sub channel of the Cached wrapper (Invalidator)
//	gw:{<b64url sha256(id)>}:at             the access token's sid (FusionAuth: refresh token id), for revoking by tag
//	gw:{rv}:set, gw:{rv}:meta               published revocations and their version (revoke.go)
//	gw:{rv}:cutoff                          the application-wide cutoff (package cutoff), published too
//
// The user index is what an operator acts on (authproxy sessions):
// UserSessions lists a user's sessions by the tag that names each record,
// which opens nothing; DeleteSession and DeleteUserSessions end them, and an
// Invalidator tells every replica's cache to drop them.
//
// # Revocations
//
// Every delete that ends a session on purpose (Delete at logout,
// DeleteSession, DeleteUserSessions, and so every caller of them) first
// records which tokens it revokes, shared by every replica: a session by
// its gateway-token sid (SID) and its access token's sid, a user by "every
// token issued until now". Revocations reads them for authproxy's
// revocation feed; each expires after the retention, when no token it
// matches can still be valid. A failure to record deletes nothing.
//
// # Hot path
//
// RedisStore.Load costs one GET. It updates LastSeen (idle timeout) at most
// once per touch interval (default min(idle/10, 1m)) with a compare-and-set
// script, so a touch never overwrites a newer Save; idle expiry is therefore
// enforced with a precision of one touch interval. The record is decoded by
// a one-pass parser for the canonical JSON that encoding/json writes
// (codec.go), which falls back to encoding/json for anything else. Cached
// adds a short-lived, bounded in-process cache that every replica invalidates through Redis
// pub/sub, and bypasses itself while its subscription is down.
package session
