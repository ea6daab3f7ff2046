-- The staged row a link belongs to, so a resolve run can pair records with
-- their links by row id instead of looking up (source, source_key) text.
ALTER TABLE links ADD COLUMN record_id INTEGER;
UPDATE links SET record_id = (
    SELECT s.id FROM staged_records s
    WHERE s.source = links.source AND s.source_key = links.source_key
);
