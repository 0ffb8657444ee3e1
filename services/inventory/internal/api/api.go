// Package api is the inventory's HTTP interface: GET /branches and
// GET /branches/:id/products behind jwtauth, plus the health, readiness and
// metrics routes from svcmain.
//
// Who sees what: the role "admin" sees every branch; "branch-manager" sees
// only the branches in its token's "branches" claim; any other caller gets
// 403. The checks run in this order, so that no answer reveals whether a
// branch exists to a caller who may not see it:
//
//  1. no or bad token: 401 (jwtauth);
//  2. neither admin nor branch-manager: 403, whatever the id;
//  3. malformed id (not a canonical positive integer): 400;
//  4. a manager asking for a branch outside its claim: 403, whether or not
//     the branch exists;
//  5. unknown branch: 404 (an admin, or a manager whose claim names a
//     branch that does not exist).
package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/httpkit"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
	"github.com/gatewarden/gatewarden/services/jwtauth"
)

// Roles that may use the inventory.
const (
	RoleAdmin         = "admin"
	RoleBranchManager = "branch-manager"
)

// Error codes of this API (the "error" field of the JSON error body).
const (
	CodeForbidden       = "forbidden"
	CodeBadID           = "invalid_id"
	CodeNotFound        = "not_found"
	CodeUnauthenticated = "unauthenticated"
)

// Log attribute keys of access decisions.
const (
	keySubject = "subject"
	keyBranch  = "branch_id"
	keyOutcome = "outcome"
	keyReason  = "reason"
)

// BranchList is the body of GET /branches.
type BranchList struct {
	Items []stock.Branch `json:"items"`
}

// BranchStock is the body of GET /branches/:id/products.
type BranchStock struct {
	Branch stock.Branch `json:"branch"`
	Items  []stock.Item `json:"items"`
}

// NewRouter returns the inventory's handler.
func NewRouter(d svcmain.Deps, store *stock.Store) (*gin.Engine, error) {
	if store == nil {
		return nil, errors.New("inventory: router: store is required")
	}
	r, authed, err := svcmain.Router(d)
	if err != nil {
		return nil, err
	}
	h := handlers{store: store, log: d.Logger}
	authed.GET("/branches", h.list)
	authed.GET("/branches/:id/products", h.products)
	return r, nil
}

type handlers struct {
	store *stock.Store
	log   *slog.Logger
}

// scope is the set of branches a caller may see.
type scope struct {
	subject  string
	all      bool
	branches map[int64]bool
}

func (s scope) allows(id int64) bool { return s.all || s.branches[id] }

// callerScope works out the caller's scope from the verified claims, or
// answers 401/403 and returns false.
func (h handlers) callerScope(c *gin.Context) (scope, bool) {
	claims, ok := jwtauth.FromContext(c.Request.Context())
	if !ok { // jwtauth runs first; fail closed if it somehow did not
		httpkit.WriteError(c, http.StatusUnauthorized, CodeUnauthenticated, "authentication required")
		return scope{}, false
	}
	s := scope{subject: claims.Subject}
	switch {
	case claims.HasAnyRole(RoleAdmin):
		s.all = true
	case claims.HasAnyRole(RoleBranchManager):
		s.branches = map[int64]bool{}
		for _, b := range claims.Branches {
			if id, err := httpkit.ParseID(b); err == nil {
				s.branches[id] = true
			}
		}
	default:
		h.deny(c, s.subject, 0, "role")
		return scope{}, false
	}
	return s, true
}

func (h handlers) deny(c *gin.Context, subject string, branch int64, reason string) {
	h.log.InfoContext(c.Request.Context(), "access decision",
		slog.String(keySubject, subject), slog.Int64(keyBranch, branch),
		slog.String(keyOutcome, "deny"), slog.String(keyReason, reason))
	msg := "requires role admin or branch-manager"
	if reason == "branch" {
		msg = "this branch is not one of yours"
	}
	httpkit.WriteError(c, http.StatusForbidden, CodeForbidden, msg)
}

func (h handlers) list(c *gin.Context) {
	s, ok := h.callerScope(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, BranchList{Items: h.store.Branches(s.allows)})
}

func (h handlers) products(c *gin.Context) {
	s, ok := h.callerScope(c)
	if !ok {
		return
	}
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		httpkit.WriteError(c, http.StatusBadRequest, CodeBadID, "branch id must be a positive integer")
		return
	}
	if !s.allows(id) {
		h.deny(c, s.subject, id, "branch")
		return
	}
	branch, items, found := h.store.Stock(id)
	if !found {
		httpkit.WriteError(c, http.StatusNotFound, CodeNotFound, "no such branch")
		return
	}
	h.log.DebugContext(c.Request.Context(), "access decision",
		slog.String(keySubject, s.subject), slog.Int64(keyBranch, id), slog.String(keyOutcome, "allow"))
	c.JSON(http.StatusOK, BranchStock{Branch: branch, Items: items})
}
