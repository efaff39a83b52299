-- Human evaluation, schema version 2: ties as GenAI-Arena records them, "both good" (kept as
-- 'tie') and "both bad" ('both_bad'). SQLite cannot change a CHECK constraint, so the ratings
-- table is rebuilt with its rows.
CREATE TABLE ratings_v2 (
  rater_id   INTEGER NOT NULL REFERENCES raters(id),
  item_id    INTEGER NOT NULL REFERENCES items(id),
  axis       TEXT NOT NULL REFERENCES axes(name),
  choice     TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
  answered_at TEXT NOT NULL,
  PRIMARY KEY (rater_id, item_id, axis)
);
INSERT INTO ratings_v2 (rater_id, item_id, axis, choice, answered_at)
  SELECT rater_id, item_id, axis, choice, answered_at FROM ratings;
DROP TABLE ratings;
ALTER TABLE ratings_v2 RENAME TO ratings;
