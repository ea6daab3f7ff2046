-- Records gone from their source, found without reading the wide staged
-- rows: which residents every department has dropped.
CREATE INDEX staged_records_gone ON staged_records (source, source_key) WHERE status = 'gone';
