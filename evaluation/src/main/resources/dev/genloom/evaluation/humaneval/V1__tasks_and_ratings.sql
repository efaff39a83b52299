-- Human evaluation, schema version 1: blind pairwise tasks and the ratings collected for them.
-- Configuration names live only in `configs`; raters reach items and media through opaque keys.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE configs (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE axes (
  position INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE,
  question TEXT NOT NULL
);

-- Media bytes are copied in, so the database is self-contained and no file path is ever served.
CREATE TABLE media (
  key  TEXT PRIMARY KEY,
  mime TEXT NOT NULL,
  data BLOB NOT NULL
);

-- One pairwise comparison: the same prompt and seed under two configurations. `left_config` is
-- shown on the left (as "A"); the placement was drawn at random and is recorded here.
CREATE TABLE items (
  id           INTEGER PRIMARY KEY,
  public_id    TEXT NOT NULL UNIQUE,
  prompt       TEXT NOT NULL,
  seed         INTEGER NOT NULL,
  left_config  INTEGER NOT NULL REFERENCES configs(id),
  right_config INTEGER NOT NULL REFERENCES configs(id),
  left_media   TEXT NOT NULL REFERENCES media(key),
  right_media  TEXT NOT NULL REFERENCES media(key),
  -- For a repeated item (rater self-consistency), the item it repeats.
  repeat_of    INTEGER REFERENCES items(id),
  CHECK (left_config <> right_config)
);

CREATE TABLE raters (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  -- SHA-256 of the rater's link token; NULL for raters whose ratings were imported.
  token_hash TEXT UNIQUE
);

CREATE TABLE assignments (
  rater_id INTEGER NOT NULL REFERENCES raters(id),
  item_id  INTEGER NOT NULL REFERENCES items(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (rater_id, item_id),
  UNIQUE (rater_id, position)
);

-- One answer per rater, item and axis; choice is the side the rater preferred.
CREATE TABLE ratings (
  rater_id   INTEGER NOT NULL REFERENCES raters(id),
  item_id    INTEGER NOT NULL REFERENCES items(id),
  axis       TEXT NOT NULL REFERENCES axes(name),
  choice     TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie')),
  answered_at TEXT NOT NULL,
  PRIMARY KEY (rater_id, item_id, axis)
);
