package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxJSONBody is the largest request body DecodeJSON reads.
const MaxJSONBody = 64 << 10

// ErrBadJSON wraps every reason DecodeJSON refuses a body.
var ErrBadJSON = errors.New("httpkit: bad JSON body")

// DecodeJSON reads exactly one JSON object from r into v: at most
// MaxJSONBody bytes, no unknown fields, nothing after the object. Its error
// wraps ErrBadJSON and describes the problem without repeating the input,
// so it may be shown to the client.
func DecodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxJSONBody+1))
	if err != nil {
		return fmt.Errorf("%w: could not read the body", ErrBadJSON)
	}
	if len(data) > MaxJSONBody {
		return fmt.Errorf("%w: body larger than %d bytes", ErrBadJSON, MaxJSONBody)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("%w: want a JSON object", ErrBadJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return fmt.Errorf("%w: field %q has the wrong type", ErrBadJSON, typeErr.Field)
		case bytes.Contains([]byte(err.Error()), []byte("unknown field")):
			return fmt.Errorf("%w: %s", ErrBadJSON, err.Error()[len("json: "):])
		}
		return fmt.Errorf("%w: malformed JSON", ErrBadJSON)
	}
	if dec.More() {
		return fmt.Errorf("%w: more than one JSON value", ErrBadJSON)
	}
	return nil
}

// CodeBadBody is the error code of a request body DecodeJSON refused.
const CodeBadBody = "invalid_body"

// Error is an error that is its own client-facing answer: a handler returns
// it for a request problem it found itself (a malformed id, a missing
// field). Message is shown to clients.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrAnswered tells an error-returning handler's adapter (ginkit.Handle)
// that the handler has already written its answer.
var ErrAnswered = errors.New("httpkit: answered")
