-- Pinned memories join every recall, and few rows are pinned: without this
-- index each search scanned its whole scope to find them.
CREATE INDEX memory_records_pinned_idx ON {{schema}}.memory_records (namespace, created_at DESC) WHERE pin;
