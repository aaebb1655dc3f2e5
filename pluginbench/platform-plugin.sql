-- What the platform's plugin (memory-plugin-postgres) runs at every boot,
-- as docs/platform-plugin-tables.md describes it, with the search_path the
-- old entrypoint gave it. {{vector_schema}} is where pgvector is installed
-- (memory_plugin for fresh tenants, public for those that had it before).
-- pluginbench's baseline runs it (PlatformSchema); the plugin's adoption
-- tests and the e2e suite create a tenant's leftover tables with it.
CREATE SCHEMA IF NOT EXISTS memory_plugin;
CREATE EXTENSION IF NOT EXISTS vector SCHEMA {{vector_schema}};
SET search_path = memory_plugin, public;
CREATE TABLE IF NOT EXISTS memory_namespaces (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    expires_at timestamptz,
    metadata   jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS memory_records (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    namespace   text NOT NULL REFERENCES memory_namespaces(name) ON DELETE CASCADE,
    content     text NOT NULL,
    kind        text NOT NULL,
    source      text NOT NULL,
    expires_at  timestamptz,
    propagation jsonb,
    pin         boolean NOT NULL DEFAULT false,
    embedding   vector(1536),
    content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_memory_records_namespace ON memory_records (namespace);
CREATE INDEX IF NOT EXISTS idx_memory_records_fts ON memory_records USING GIN (content_tsv);
CREATE INDEX IF NOT EXISTS idx_memory_records_embedding ON memory_records USING ivfflat (embedding) WHERE embedding IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_memory_records_expires ON memory_records (expires_at) WHERE expires_at IS NOT NULL;
