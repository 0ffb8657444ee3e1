package httpkit

import (
	"fmt"
	"strconv"
)

// Error codes shared by every service's JSON error bodies.
const (
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal_error"
	CodeBadRequest       = "bad_request"
)

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// ErrBadID is returned by ParseID.
var ErrBadID = fmt.Errorf("httpkit: id must be a positive integer in canonical form")

// ParseID parses a resource id in a path: a positive decimal integer
// without sign, leading zeros or surrounding space (so "1", never "01" or
// "+1"), at most 18 digits. One canonical spelling per id keeps authorisation
// checks that compare ids unambiguous.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 18 || s[0] < '1' || s[0] > '9' {
		return 0, ErrBadID
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadID
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrBadID
	}
	return n, nil
}
