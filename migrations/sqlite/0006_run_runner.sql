-- Which process runs each run (host:pid), so a run left `running` by a
-- process that is gone can be told from one still at work.
ALTER TABLE runs ADD COLUMN runner TEXT;
