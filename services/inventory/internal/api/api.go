// Package api is the inventory's HTTP interface, every route behind
// jwtauth, plus the health, readiness and metrics routes from svcmain:
//
//	GET  /branches                                  the branches the caller may see
//	GET  /branches/:id/products                     a branch's stock (with row versions)
//	PUT  /branches/:id/products/:pid                {"quantity":n,"version":v}: set, if still at v
//	POST /branches/:id/products/:pid/adjustments    {"delta":d}: add or take out, never below zero
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
//
// Writes follow the same order and the same rule (admin: any branch;
// branch-manager: own branches), then validate the body (400), then answer
// 404 for a product the branch does not stock, 409 for a stale version
// (version_conflict) or a take below zero (insufficient_stock). Handlers
// return errors; writeErr maps them in one place.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
	"github.com/gatewarden/gatewarden/services/shared/ginkit"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Roles that may use the inventory.
const (
	RoleAdmin         = "admin"
	RoleBranchManager = "branch-manager"
)

// ClaimBranches is the token claim that lists the branches a branch manager
// is responsible for: a list of ids (strings or numbers, see
// jwtauth.StringList). A token whose claim is not such a list is refused
// with 401, as jwtauth refuses an invalid token.
const ClaimBranches = "branches"

// Error codes of this API (the "error" field of the JSON error body).
const (
	CodeForbidden       = "forbidden"
	CodeBadID           = "invalid_id"
	CodeNotFound        = "not_found"
	CodeUnauthenticated = "unauthenticated"
	CodeBadBody         = httpkit.CodeBadBody
	CodeInvalid         = "invalid_change"
	CodeConflict        = "version_conflict"
	CodeInsufficient    = "insufficient_stock"
	CodeInternal        = httpkit.CodeInternal
)

// Store is the data the API needs (stock.Store).
type Store interface {
	Branches(ctx context.Context, keep func(id int64) bool) ([]stock.Branch, error)
	Stock(ctx context.Context, id int64) (stock.Branch, []stock.Item, error)
	SetQuantity(ctx context.Context, branch, product int64, quantity int, version int64) (stock.Item, error)
	Adjust(ctx context.Context, branch, product int64, delta int) (stock.Item, error)
}

// SetQuantity is the body of PUT /branches/:id/products/:pid. Both fields
// are required; version is the one the caller read.
type SetQuantity struct {
	Quantity *int  `json:"quantity"`
	Version  int64 `json:"version"`
}

// Adjustment is the body of POST /branches/:id/products/:pid/adjustments.
type Adjustment struct {
	Delta int `json:"delta"`
}

// Change is the answer to a write: the branch and the item as stored now.
type Change struct {
	BranchID int64      `json:"branch_id"`
	Item     stock.Item `json:"item"`
}

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
func NewRouter(d svcmain.Deps, store Store) (*gin.Engine, error) {
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
	authed.PUT("/branches/:id/products/:pid", h.handle(h.set))
	authed.POST("/branches/:id/products/:pid/adjustments", h.handle(h.adjust))
	return r, nil
}

type handlers struct {
	store Store
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
		ginkit.WriteError(c, http.StatusUnauthorized, CodeUnauthenticated, "authentication required")
		return scope{}, false
	}
	var branches jwtauth.StringList
	if _, err := claims.Extra(ClaimBranches, &branches); err != nil {
		h.log.WarnContext(c.Request.Context(), "token rejected", slog.String(keySubject, claims.Subject), slog.String(keyReason, err.Error()))
		jwtauth.WriteInvalidToken(c.Writer)
		c.Abort()
		return scope{}, false
	}
	s := scope{subject: claims.Subject}
	switch {
	case claims.HasAnyRole(RoleAdmin):
		s.all = true
	case claims.HasAnyRole(RoleBranchManager):
		s.branches = map[int64]bool{}
		for _, b := range branches {
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
	ginkit.WriteError(c, http.StatusForbidden, CodeForbidden, msg)
}

func (h handlers) list(c *gin.Context) {
	s, ok := h.callerScope(c)
	if !ok {
		return
	}
	branches, err := h.store.Branches(c.Request.Context(), s.allows)
	if err != nil {
		h.writeErr(c, err)
		return
	}
	c.JSON(http.StatusOK, BranchList{Items: branches})
}

func (h handlers) products(c *gin.Context) {
	s, ok := h.callerScope(c)
	if !ok {
		return
	}
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		ginkit.WriteError(c, http.StatusBadRequest, CodeBadID, "branch id must be a positive integer")
		return
	}
	if !s.allows(id) {
		h.deny(c, s.subject, id, "branch")
		return
	}
	branch, items, err := h.store.Stock(c.Request.Context(), id)
	if err != nil {
		h.writeErr(c, err)
		return
	}
	h.log.DebugContext(c.Request.Context(), "access decision",
		slog.String(keySubject, s.subject), slog.Int64(keyBranch, id), slog.String(keyOutcome, "allow"))
	c.JSON(http.StatusOK, BranchStock{Branch: branch, Items: items})
}

func (h handlers) handle(fn func(*gin.Context) error) gin.HandlerFunc {
	return ginkit.Handle(fn, h.writeErr)
}

// writeErr is the one place where the inventory's errors become HTTP
// answers. Messages are fixed texts; an internal error's text is only
// logged.
func (h handlers) writeErr(c *gin.Context, err error) {
	if ginkit.WriteKnown(c, err) {
		return
	}
	switch {
	case errors.Is(err, stock.ErrInvalidData):
		ginkit.WriteError(c, http.StatusBadRequest, CodeInvalid, strings.TrimPrefix(err.Error(), stock.ErrInvalidData.Error()+": "))
	case errors.Is(err, stock.ErrNotFound):
		ginkit.WriteError(c, http.StatusNotFound, CodeNotFound, "no such branch, or the branch does not stock this product")
	case errors.Is(err, stock.ErrVersion):
		ginkit.WriteError(c, http.StatusConflict, CodeConflict, "the stock was changed by someone else; reload it and try again")
	case errors.Is(err, stock.ErrInsufficient):
		ginkit.WriteError(c, http.StatusConflict, CodeInsufficient, "not enough stock: the quantity cannot go below zero")
	default:
		h.log.ErrorContext(c.Request.Context(), "request failed", slog.String(httpkit.KeyError, err.Error()))
		ginkit.WriteError(c, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// target authorises a write to /branches/:id/products/:pid and returns the
// ids, in the same order of checks as the reads.
func (h handlers) target(c *gin.Context) (scope, int64, int64, error) {
	s, ok := h.callerScope(c)
	if !ok {
		return scope{}, 0, 0, httpkit.ErrAnswered
	}
	branch, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		return scope{}, 0, 0, &httpkit.Error{Status: http.StatusBadRequest, Code: CodeBadID, Message: "branch id must be a positive integer"}
	}
	product, err := httpkit.ParseID(c.Param("pid"))
	if err != nil {
		return scope{}, 0, 0, &httpkit.Error{Status: http.StatusBadRequest, Code: CodeBadID, Message: "product id must be a positive integer"}
	}
	if !s.allows(branch) {
		h.deny(c, s.subject, branch, "branch")
		return scope{}, 0, 0, httpkit.ErrAnswered
	}
	return s, branch, product, nil
}

func (h handlers) set(c *gin.Context) error {
	s, branch, product, err := h.target(c)
	if err != nil {
		return err
	}
	var body SetQuantity
	if err := httpkit.DecodeJSON(c.Request.Body, &body); err != nil {
		return err
	}
	if body.Quantity == nil || body.Version <= 0 {
		return &httpkit.Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: "quantity and version (the version you read) are required"}
	}
	it, err := h.store.SetQuantity(c.Request.Context(), branch, product, *body.Quantity, body.Version)
	if err != nil {
		return err
	}
	h.changed(c, s, branch, "set", it)
	c.JSON(http.StatusOK, Change{BranchID: branch, Item: it})
	return nil
}

func (h handlers) adjust(c *gin.Context) error {
	s, branch, product, err := h.target(c)
	if err != nil {
		return err
	}
	var body Adjustment
	if err := httpkit.DecodeJSON(c.Request.Body, &body); err != nil {
		return err
	}
	it, err := h.store.Adjust(c.Request.Context(), branch, product, body.Delta)
	if err != nil {
		return err
	}
	h.changed(c, s, branch, "adjust", it)
	c.JSON(http.StatusOK, Change{BranchID: branch, Item: it})
	return nil
}

// changed logs who changed which stock row (ids and numbers only).
func (h handlers) changed(c *gin.Context, s scope, branch int64, op string, it stock.Item) {
	h.log.InfoContext(c.Request.Context(), "stock changed", slog.String("op", op), slog.String(keySubject, s.subject),
		slog.Int64(keyBranch, branch), slog.Int64("product_id", it.ProductID), slog.Int("quantity", it.Quantity),
		slog.Int64("version", it.Version), slog.String("change", fmt.Sprintf("%s %d/%d", op, branch, it.ProductID)))
}
