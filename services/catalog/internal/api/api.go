// Package api is the catalog's HTTP interface: GET /products (paged) and
// GET /products/:id, both behind jwtauth, plus the health, readiness and
// metrics routes from svcmain.
package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/httpkit"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
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
)

// Page is the body of GET /products.
type Page struct {
	Items  []products.Product `json:"items"`
	Total  int                `json:"total"`
	Limit  int                `json:"limit"`
	Offset int                `json:"offset"`
}

// NewRouter returns the catalog's handler.
func NewRouter(d svcmain.Deps, store *products.Store) (*gin.Engine, error) {
	if store == nil {
		return nil, errors.New("catalog: router: store is required")
	}
	r, authed, err := svcmain.Router(d)
	if err != nil {
		return nil, err
	}
	h := handlers{store: store}
	authed.GET("/products", h.list)
	authed.GET("/products/:id", h.get)
	return r, nil
}

type handlers struct {
	store *products.Store
}

func (h handlers) list(c *gin.Context) {
	limit, ok := queryCount(c, "limit", DefaultLimit)
	if !ok || limit == 0 {
		httpkit.WriteError(c, http.StatusBadRequest, CodeBadLimit, "limit must be a positive integer")
		return
	}
	limit = min(limit, MaxLimit)
	offset, ok := queryCount(c, "offset", 0)
	if !ok {
		httpkit.WriteError(c, http.StatusBadRequest, CodeBadOffset, "offset must be a non-negative integer")
		return
	}
	items, total := h.store.Page(limit, offset)
	c.JSON(http.StatusOK, Page{Items: items, Total: total, Limit: limit, Offset: offset})
}

func (h handlers) get(c *gin.Context) {
	id, err := httpkit.ParseID(c.Param("id"))
	if err != nil {
		httpkit.WriteError(c, http.StatusBadRequest, CodeBadID, "product id must be a positive integer")
		return
	}
	p, ok := h.store.Get(id)
	if !ok {
		httpkit.WriteError(c, http.StatusNotFound, CodeNotFound, "no such product")
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
