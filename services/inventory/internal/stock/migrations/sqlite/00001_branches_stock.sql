-- +goose Up
CREATE TABLE branches (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL CHECK (name <> ''),
  city TEXT NOT NULL DEFAULT ''
);

-- product_id refers to the catalog's products, which this service does not
-- read: no foreign key across services. The name is a copy, so the
-- inventory answers without calling the catalog.
CREATE TABLE stock (
  branch_id  INTEGER NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
  product_id INTEGER NOT NULL CHECK (product_id > 0),
  name       TEXT    NOT NULL DEFAULT '',
  quantity   INTEGER NOT NULL CHECK (quantity >= 0),
  version    INTEGER NOT NULL DEFAULT 1 CHECK (version > 0),
  PRIMARY KEY (branch_id, product_id)
);

-- +goose Down
DROP TABLE stock;
DROP TABLE branches;
