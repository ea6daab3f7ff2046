-- The staged content hash each link decision was made on: a record whose
-- hash differs from its link's has changed since it was resolved, so an
-- incremental resolve compares it again.
ALTER TABLE links ADD COLUMN content_hash TEXT;
CREATE INDEX masters_status ON masters (status);
