-- The record's comparison view (matching::Features as JSON), written with
-- the canonical record at staging so resolution reads it instead of
-- re-parsing names and addresses. NULL for rows staged before; resolution
-- then derives it from `canonical`.
ALTER TABLE staged_records ADD COLUMN match_key TEXT;
