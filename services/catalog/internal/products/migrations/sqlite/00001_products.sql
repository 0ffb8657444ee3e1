-- +goose Up
CREATE TABLE products (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT    NOT NULL CHECK (name <> ''),
  description TEXT    NOT NULL DEFAULT '',
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  currency    TEXT    NOT NULL CHECK (length(currency) = 3),
  category    TEXT    NOT NULL DEFAULT '',
  version     INTEGER NOT NULL DEFAULT 1 CHECK (version > 0)
);

-- +goose Down
DROP TABLE products;
