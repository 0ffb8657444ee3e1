// Package admin holds authproxy's operator commands, subcommands of the
// same binary as the server: `authproxy sessions list` shows a user's
// sessions in Redis, `authproxy sessions revoke` ends one or all of them
// and tells every running replica to drop them from its cache at once.
// They read the server's Redis settings (config.LoadRedis) and talk to
// Redis through the session package's store and Invalidator; main only
// dispatches here.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/app"
	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/options"
)

// Command is the first argument that selects these commands:
// `authproxy sessions ...`.
const Command = "sessions"

// Env is what a command runs with; main passes the process's own.
type Env struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
	// Now is the clock the idle expiries are computed with; nil = time.Now.
	Now func() time.Time
	// Audit receives the audit line of a revocation (package audit); nil = none.
	Audit *slog.Logger
}

// The verbs of `authproxy sessions`.
const (
	verbList   = "list"
	verbRevoke = "revoke"
)

// Output formats (--output).
const (
	outputTable = "table"
	outputJSON  = "json"
)

const synopsis = `usage: authproxy sessions list --user USER_ID [--output table|json] [Redis flags]
       authproxy sessions revoke --user USER_ID (--session ID | --all) [--output table|json] [Redis flags]`

const description = `
list prints one line per live session of the user: its id (it names the record in Redis and
opens nothing), its absolute expiry and its idle expiry (when Redis drops the record unless the
session is used), in UTC to the second. revoke deletes one session (--session, an id from list)
or all of them (--all) and tells every running authproxy replica, on the session-cache channel,
to drop them at once; it prints what it revoked. Redis is reached with the server's own settings
(the same flags, AUTHPROXY_* variables and --config file); nothing else is required.
Exit status: 0 done (nothing to list or revoke included), 1 failed (unknown session, Redis
unreachable), 2 bad usage or configuration.`

// request is the command line of one verb.
type request struct {
	verb    string
	user    string
	session string
	all     bool
	output  string
	audit   *slog.Logger // Env.Audit
}

func (r *request) program() string { return "authproxy " + Command + " " + r.verb }

// options are the verb's own arguments, ahead of the Redis options.
func (r *request) options() []options.Option {
	opts := []options.Option{
		{Name: "user", FlagOnly: true, Usage: "the user's id at the identity provider (the `sub` of their tokens; FusionAuth's user id)", Value: options.String(&r.user)},
	}
	if r.verb == verbRevoke {
		opts = append(opts,
			options.Option{Name: "session", FlagOnly: true, Usage: "the session to revoke: an id that `list` printed", Value: options.String(&r.session)},
			options.Option{Name: "all", FlagOnly: true, Usage: "revoke every session of the user", Value: options.Bool(&r.all)},
		)
	}
	return append(opts, options.Option{Name: "output", FlagOnly: true, Default: outputTable, Usage: "`table` for people, `json` for scripts", Value: options.String(&r.output)})
}

// problem returns what is wrong with the arguments, or "".
func (r *request) problem() string {
	switch {
	case r.user == "":
		return "--user is required"
	case r.output != outputTable && r.output != outputJSON:
		return fmt.Sprintf("--output must be %s or %s, not %q", outputTable, outputJSON, r.output)
	case r.verb == verbRevoke && (r.session == "") == !r.all:
		return "give exactly one of --session ID and --all"
	}
	return ""
}

// Sessions runs `authproxy sessions ARGS` (args after "sessions") and
// returns the exit code: 0 done, 1 failed, 2 bad usage or configuration.
func Sessions(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		return usageError(env.Stderr, "authproxy "+Command, "give a command: list or revoke")
	}
	r := &request{verb: args[0], audit: env.Audit}
	switch r.verb {
	case verbList, verbRevoke:
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(env.Stderr, "%s\n%s\n", synopsis, description)
		return options.ExitOK
	default:
		return usageError(env.Stderr, "authproxy "+Command, fmt.Sprintf("unknown command %q: want list or revoke", r.verb))
	}
	cmd := options.Set{Program: r.program(), Synopsis: synopsis + "\n" + description, Options: r.options()}
	cfg, err := config.LoadRedis(cmd, args[1:], env.Getenv, env.Stderr)
	if cfg != nil && !cfg.CheckOnly() {
		if p := r.problem(); p != "" {
			return usageError(env.Stderr, r.program(), p)
		}
	}
	if code, stop := options.Report(r.program(), cfg, err, env.Stdout, env.Stderr); stop {
		return code
	}

	rdb := app.NewRedisClient(cfg)
	defer func() { _ = rdb.Close() }()
	store, err := session.NewRedisStore(session.Config{Client: rdb, Now: env.Now})
	if err != nil {
		return r.fail(env.Stderr, cfg, err)
	}
	inval := session.NewInvalidator(rdb, "") // the channel every replica's cache listens on
	if r.verb == verbList {
		err = r.list(ctx, store, env)
	} else {
		err = r.revoke(ctx, store, inval, env.Stdout)
	}
	if err != nil {
		return r.fail(env.Stderr, cfg, err)
	}
	return options.ExitOK
}

// usageError reports bad usage: the problem, the synopsis, exit 2.
func usageError(w io.Writer, program, problem string) int {
	fmt.Fprintf(w, "%s: %s\n%s\nRun '%s -h' for every flag.\n", program, problem, synopsis, program)
	return options.ExitConfig
}

// fail reports err and returns 1.
func (r *request) fail(w io.Writer, cfg *config.Config, err error) int {
	msg := err.Error()
	switch {
	case errors.Is(err, errNotPublished):
	case errors.Is(err, session.ErrUnavailable):
		msg = fmt.Sprintf("cannot reach Redis at %s: %v", strings.Join(cfg.RedisAddrs, ","), err)
	case errors.Is(err, session.ErrNotFound):
		msg = fmt.Sprintf("user %q has no session %q (list shows their sessions)", r.user, r.session)
	}
	fmt.Fprintf(w, "%s: %s\n", r.program(), msg)
	return options.ExitFailure
}

// listed is list's JSON output.
type listed struct {
	UserID   string        `json:"user_id"`
	Sessions []listedEntry `json:"sessions"`
	// Stale counts the index entries whose record is gone (expired idle):
	// not sessions any more, not listed.
	Stale int `json:"stale"`
}

type listedEntry struct {
	ID          string `json:"id"`
	Expires     string `json:"expires"`
	IdleExpires string `json:"idle_expires"`
}

// list prints the user's live sessions; entries of the index whose record
// is gone are counted, not listed, and left to the store (UserSessions).
func (r *request) list(ctx context.Context, store *session.RedisStore, env Env) error {
	infos, err := store.UserSessions(ctx, r.user)
	if err != nil {
		return err
	}
	out := listed{UserID: r.user, Sessions: []listedEntry{}}
	for _, in := range infos {
		if !in.Live() {
			out.Stale++
			continue
		}
		out.Sessions = append(out.Sessions, listedEntry{ID: in.ID, Expires: timeText(in.Expires), IdleExpires: timeText(in.IdleExpires)})
	}
	if r.output == outputJSON {
		return writeJSON(env.Stdout, out)
	}
	if len(out.Sessions) == 0 {
		fmt.Fprintln(env.Stdout, "no sessions")
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SESSION\tEXPIRES\tIDLE EXPIRES")
		for _, s := range out.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Expires, s.IdleExpires)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if out.Stale > 0 {
		fmt.Fprintf(env.Stdout, "(%d more in the user's index without a record: expired idle, not listed)\n", out.Stale)
	}
	return nil
}

// revoked is revoke's JSON output.
type revoked struct {
	UserID  string   `json:"user_id"`
	Revoked []string `json:"revoked"`
}

// revoke deletes the session(s), then publishes the invalidation every
// replica's cache acts on.
func (r *request) revoke(ctx context.Context, store *session.RedisStore, inval *session.Invalidator, w io.Writer) error {
	out := revoked{UserID: r.user, Revoked: []string{}}
	if r.all {
		ended, err := store.DeleteUserSessions(ctx, r.user)
		if err != nil {
			return err
		}
		out.Revoked = append(out.Revoked, ended...)
		// Always: a replica may still cache a session of the user.
		if err := inval.User(ctx, r.user); err != nil {
			return notPublished(len(ended), err)
		}
	} else {
		if err := store.DeleteSession(ctx, r.user, r.session); err != nil {
			return err
		}
		out.Revoked = append(out.Revoked, r.session)
		if err := inval.Session(ctx, r.session); err != nil {
			return notPublished(1, err)
		}
	}
	audit.AdminRevoked(ctx, r.audit, r.user, out.Revoked)
	if r.output == outputJSON {
		return writeJSON(w, out)
	}
	if len(out.Revoked) == 0 {
		fmt.Fprintln(w, "no sessions")
	}
	for _, id := range out.Revoked {
		fmt.Fprintf(w, "revoked session %s of user %s\n", id, r.user)
	}
	return nil
}

// errNotPublished marks a revocation whose invalidation did not go out:
// the records are gone, but replicas may serve them from their cache for up
// to session-cache-ttl.
var errNotPublished = errors.New("deleted from Redis, but the replicas were not told to drop them from their cache (they may serve them for up to session-cache-ttl)")

func notPublished(n int, err error) error {
	return fmt.Errorf("%d session(s) %w: %w", n, errNotPublished, err)
}

// timeText is how a time is shown: UTC, RFC 3339, to the second.
func timeText(t time.Time) string { return t.Round(time.Second).UTC().Format(time.RFC3339) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
