-- Namespaces and memories. {{schema}} is the quoted MEMORY_PLUGIN_SCHEMA and
-- {{dim}} the embedding dimension at first boot; the column's type modifier is
-- then the one record of the dimension (a later boot with another dimension is
-- refused instead of corrupting the index).

CREATE TABLE {{schema}}.memory_namespaces (
    name       text PRIMARY KEY
               CHECK (name ~ '^[a-z]+:[A-Za-z0-9_:.\-]+$' AND length(name) <= 256),
    kind       text NOT NULL CHECK (kind IN ('workspace', 'team', 'org', 'custom')),
    expires_at timestamptz,
    -- json, not jsonb: metadata and propagation come back exactly as stored
    -- (key order, duplicate keys, number spelling).
    metadata   json,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {{schema}}.memory_records (
    id          uuid PRIMARY KEY,
    namespace   text NOT NULL REFERENCES {{schema}}.memory_namespaces (name) ON DELETE CASCADE,
    content     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('fact', 'summary', 'checkpoint')),
    source      text NOT NULL CHECK (source IN ('agent', 'runtime', 'user')),
    expires_at  timestamptz,
    propagation json,
    pin         boolean NOT NULL DEFAULT false,
    metadata    json,
    embedding   vector({{dim}}) NOT NULL,
    content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Cosine: the operator class must match the <=> operator recall orders by, or
-- the index is never used (the reference implementation's mistake).
CREATE INDEX memory_records_embedding_idx ON {{schema}}.memory_records
    USING hnsw (embedding vector_cosine_ops);
CREATE INDEX memory_records_content_tsv_idx ON {{schema}}.memory_records USING gin (content_tsv);
-- Recency listing and selective namespace filters.
CREATE INDEX memory_records_namespace_created_idx ON {{schema}}.memory_records (namespace, created_at DESC);
