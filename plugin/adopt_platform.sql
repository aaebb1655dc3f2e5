-- Migration 1 for a schema that already holds the tables of the platform's
-- plugin (memory-plugin-postgres; docs/platform-plugin-tables.md): instead of
-- creating the tables, bring theirs to the shape of 0001_init.sql, in place,
-- keeping every row, id, created_at, expires_at, propagation and metadata.
-- Only catalog changes and small-table work happen here, so the boot stays
-- fast at any size; what scans or writes every memory (embedding it, the
-- HNSW and recency indexes, NOT NULL on embedding) is done afterwards in the
-- background by adoption.go. {{schema}} and {{dim}} as in 0001_init.sql.

-- Namespaces are few: json, as ours, so metadata comes back as written.
ALTER TABLE {{schema}}.memory_namespaces
    ALTER COLUMN metadata TYPE json USING metadata::json,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- No CHECK constraints on names, kinds and sources, unlike 0001_init.sql: the
-- handlers check every write, and a CHECK, even NOT VALID, is enforced on
-- every UPDATE of a row, so one old row outside the rules would stop the
-- background embedding of it for good. Old rows are kept and served as they
-- are (a metadata or propagation that is not an object is served as null).

-- The platform's vectors came from a model of some client's choosing, in
-- another dimension: similarity between them and ours means nothing, so they
-- are put aside, kept but never searched, and every memory is embedded anew.
-- Its ivfflat index used the L2 operator class, which cosine searches never
-- used.
-- IF EXISTS here and below: an older version of that plugin, or an operator,
-- may have left an index out; adoption must not crash-loop the boot over it.
DROP INDEX IF EXISTS {{schema}}.idx_memory_records_embedding;
ALTER TABLE {{schema}}.memory_records RENAME COLUMN embedding TO embedding_foreign;
-- propagation stays jsonb: converting it would rewrite the whole table and
-- rebuild its indexes while the health gate waits, and jsonb serves the same
-- objects (the platform's plugin served them from this column).
ALTER TABLE {{schema}}.memory_records
    ALTER COLUMN id DROP DEFAULT,
    ADD COLUMN metadata json,
    -- Null until the background job embeds the row; NOT NULL once all are.
    ADD COLUMN embedding vector({{dim}}),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- Same expression as ours: the index is kept and renamed, not rebuilt.
ALTER INDEX IF EXISTS {{schema}}.idx_memory_records_fts RENAME TO memory_records_content_tsv_idx;
-- Built here only when the platform's was missing (slow then, but rare).
CREATE INDEX IF NOT EXISTS memory_records_content_tsv_idx ON {{schema}}.memory_records USING gin (content_tsv);
-- Ours has none: expired rows are filtered, not looked up by expiry.
DROP INDEX IF EXISTS {{schema}}.idx_memory_records_expires;
-- idx_memory_records_namespace serves namespace filters until the background
-- job has built memory_records_namespace_created_idx, then goes.
