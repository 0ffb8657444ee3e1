// Package api is the catalog's HTTP interface, every route behind jwtauth:
//
//	GET    /products?q=&limit=&offset=  a page of products, optionally searched
//	GET    /products/:id                one product
//	POST   /products                    create (role admin)
//	PUT    /products/:id                update, naming the version read (admin)
//	DELETE /products/:id                delete (admin)
//
// plus the health, readiness and metrics routes from svcmain. Handlers
// return errors; writeErr is the one place that maps them to HTTP.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/shared/ginkit"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Paging limits for GET /products.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Error codes of this API (the "error" field of the JSON error body).
const (
	CodeBadLimit  = "invalid_limit"
	CodeBadOffset = "invalid_offset"
	CodeBadID     = "invalid_id"
	CodeNotFound  = "not_found"
	CodeBadSearch = "invalid_search"
	CodeBadBody   = httpkit.CodeBadBody
	CodeInvalid   = "invalid_product"
	CodeConflict  = "version_conflict"
	CodeForbidden = "forbidden"
	CodeUnauth    = "unauthenticated"
	CodeInternal  = httpkit.CodeInternal
)

// RoleAdmin is the role that may change the catalog.
const RoleAdmin = "admin"

// MaxSearch is the longest search text accepted.
const MaxSearch = 100

// Store is the product data the API needs (products.Store).
type Store interface {
	List(ctx context.Context, q products.Query) ([]products.Product, int, error)
	Get(ctx context.Context, id int64) (products.Product, error)
	Create(ctx context.Context, f products.Fields) (products.Product, error)
	Update(ctx context.Context, id, version int64, f products.Fields) (products.Product, error)
	Delete(ctx context.Context, id int64) error
}

// Update is the body of PUT /products/:id: the new fields and the version
// they were based on.
type Update struct {
	products.Fields
	Version int64 `json:"version"`
}

// Page is the body of GET /products.
type Page struct {
	Items  []products.Product `json:"items"`
	Total  int                `json:"total"`
	Limit  int                `json:"limit"`
	Offset int                `json:"offset"`
	Query  string             `json:"q,omitempty"`
}

// NewRouter returns the catalog's handler.
func NewRouter(d svcmain.Deps, store Store) (*gin.Engine, error) {
	if store == nil {
		return nil, errors.New("catalog: router: store is required")
	}
	r, authed, err := svcmain.Router(d)
	if err != nil {
		return nil, err
	}
	h := handlers{store: store, log: d.Logger}
	authed.GET("/products", h.list)
	authed.GET("/products/:id", h.get)
	admin := authed.Group("/", h.requireAdmin)
	admin.POST("/products", h.handle(h.create))
	admin.PUT("/products/:id", h.handle(h.update))
	admin.DELETE("/products/:id", h.handle(h.remove))
	return r, nil
}

type handlers struct {
	store Store
	log   *slog.Logger
}

// requireAdmin refuses every caller without the admin role before the
// request is even read (the gateway's rule should have refused them first).
func (h handlers) requireAdmin(c *gin.Context) {
	claims, ok := jwtauth.FromContext(c.Request.Context())
	if !ok { // jwtauth runs first; fail closed if it somehow did not
		ginkit.WriteError(c, http.StatusUnauthorized, CodeUnauth, "authentication required")
		return
	}
	if !claims.HasAnyRole(RoleAdmin) {
		h.log.InfoContext(c.Request.Context(), "access decision", slog.String("subject", claims.Subject),
			slog.String("outcome", "deny"), slog.String("reason", "role"))
		ginkit.WriteError(c, http.StatusForbidden, CodeForbidden, "changing the catalog requires the role admin")
		return
	}
	c.Next()
}

func badRequest(code, message string) error {
	return &httpkit.Error{Status: http.StatusBadRequest, Code: code, Message: message}
}

func (h handlers) handle(fn func(*gin.Context) error) gin.HandlerFunc {
	return ginkit.Handle(fn, h.writeErr)
}

// writeErr is the one place where the catalog's errors become HTTP answers.
// Messages are fixed texts or validation lines the API wrote itself; an
// internal error's text is only logged.
func (h handlers) writeErr(c *gin.Context, err error) {
	if ginkit.WriteKnown(c, err) {
		return
	}
	switch {
	case errors.Is(err, products.ErrInvalidData):
		ginkit.WriteError(c, http.StatusBadRequest, CodeInvalid, validationMessage(err))
	case errors.Is(err, products.ErrNotFound):
		ginkit.WriteError(c, http.StatusNotFound, CodeNotFound, "no such product")
	case errors.Is(err, products.ErrVersion):
		ginkit.WriteError(c, http.StatusConflict, CodeConflict, "the product was changed by someone else; reload it and try again")
	case errors.Is(err, database.ErrDuplicate), errors.Is(err, database.ErrConstraint):
		ginkit.WriteError(c, http.StatusConflict, CodeConflict, "the change conflicts with the stored data")
	default:
		h.log.ErrorContext(c.Request.Context(), "request failed", slog.String(httpkit.KeyError, err.Error()))
		ginkit.WriteError(c, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// validationMessage lists a validation error's lines without the package
// prefix: "name: must not be empty; currency: ...".
func validationMessage(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, products.ErrInvalidData.Error()+": ")
	}
	return strings.Join(lines, "; ")
}

func (h handlers) create(c *gin.Context) error {
	var f products.Fields
	if err := httpkit.DecodeJSON(c.Request.Body, &f); err != nil {
		return err
	}
	p, err := h.store.Create(c.Request.Context(), f)
	if err != nil {
		return err
	}
	h.audit(c, "create", p)
	c.Header("Location", fmt.Sprintf("/products/%d", p.ID))
	c.JSON(http.StatusCreated, p)
	return nil
}

func (h handlers) update(c *gin.Context) error {
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		return badRequest(CodeBadID, "product id must be a positive integer")
	}
	var u Update
	if err := httpkit.DecodeJSON(c.Request.Body, &u); err != nil {
		return err
	}
	if u.Version <= 0 {
		return badRequest(CodeInvalid, "version: required (the version of the product you read)")
	}
	p, err := h.store.Update(c.Request.Context(), id, u.Version, u.Fields)
	if err != nil {
		return err
	}
	h.audit(c, "update", p)
	c.JSON(http.StatusOK, p)
	return nil
}

func (h handlers) remove(c *gin.Context) error {
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		return badRequest(CodeBadID, "product id must be a positive integer")
	}
	if err := h.store.Delete(c.Request.Context(), id); err != nil {
		return err
	}
	h.audit(c, "delete", products.Product{ID: id})
	c.Status(http.StatusNoContent)
	return nil
}

// audit logs who changed which product (ids only).
func (h handlers) audit(c *gin.Context, op string, p products.Product) {
	sub := ""
	if claims, ok := jwtauth.FromContext(c.Request.Context()); ok {
		sub = claims.Subject
	}
	h.log.InfoContext(c.Request.Context(), "product changed", slog.String("op", op),
		slog.String("subject", sub), slog.Int64("product_id", p.ID), slog.Int64("version", p.Version))
}

func (h handlers) list(c *gin.Context) {
	limit, ok := queryCount(c, "limit", DefaultLimit)
	if !ok || limit == 0 {
		ginkit.WriteError(c, http.StatusBadRequest, CodeBadLimit, "limit must be a positive integer")
		return
	}
	limit = min(limit, MaxLimit)
	offset, ok := queryCount(c, "offset", 0)
	if !ok {
		ginkit.WriteError(c, http.StatusBadRequest, CodeBadOffset, "offset must be a non-negative integer")
		return
	}
	q, ok := querySearch(c)
	if !ok {
		ginkit.WriteError(c, http.StatusBadRequest, CodeBadSearch, fmt.Sprintf("q must be given once, at most %d characters of valid text", MaxSearch))
		return
	}
	items, total, err := h.store.List(c.Request.Context(), products.Query{Search: q, Limit: limit, Offset: offset})
	if err != nil {
		h.writeErr(c, err)
		return
	}
	c.JSON(http.StatusOK, Page{Items: items, Total: total, Limit: limit, Offset: offset, Query: q})
}

// querySearch reads the optional search text q: given at most once, valid
// UTF-8 without control characters, at most MaxSearch characters; spaces
// around it are dropped.
func querySearch(c *gin.Context) (string, bool) {
	values, present := c.GetQueryArray("q")
	if !present {
		return "", true
	}
	if len(values) != 1 {
		return "", false
	}
	q := strings.TrimSpace(values[0])
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxSearch {
		return "", false
	}
	for _, r := range q {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return q, true
}

func (h handlers) get(c *gin.Context) {
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		ginkit.WriteError(c, http.StatusBadRequest, CodeBadID, "product id must be a positive integer")
		return
	}
	p, err := h.store.Get(c.Request.Context(), id)
	if err != nil {
		h.writeErr(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// maxCount is where large query numbers saturate: no page is that big, and
// saturating means a huge limit is capped and a huge offset is simply past
// the end, rather than an overflow.
const maxCount = 1 << 30

// queryCount reads a non-negative decimal query parameter (digits only: no
// sign, space or exponent), given at most once; absent means def. Values
// above maxCount saturate.
func queryCount(c *gin.Context, name string, def int) (int, bool) {
	values, present := c.GetQueryArray(name)
	if !present {
		return def, true
	}
	if len(values) != 1 || values[0] == "" {
		return 0, false
	}
	s := values[0]
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxCount { // only range errors remain
		return maxCount, true
	}
	return n, true
}
