-- Recall over a small scope (the platform's usual workspace+team+org, up to
-- 5,000 memories) read every memory of the scope from the heap of
-- memory_records: namespaces interleave by arrival, so each memory was a
-- heap page of its own (1.5 KB rows with the 1 KB vector inline), about
-- 450 pages per recall at 100,000 memories. This migration lets the two
-- lists read indexes instead (plugin/search.go):
--
-- 1. The vector list: memory_vectors (the background indexer's table,
--    migration 0003) also holds each indexed memory's namespace, kind and
--    expires_at, and a btree on namespace INCLUDEs the vector, so a scope's
--    vectors are an index-only scan of a few leaf pages (the indexer
--    VACUUMs the table, which keeps its pages all-visible). A namespace is
--    read this way only when memory_vectors holds as many of its memories
--    as memory_records (nothing of it queued); otherwise it is read from
--    memory_records as before. The vectors are stored l2-normalised
--    (cosine distance does not change), so that halfvec rounding bounds the
--    error of a distance whatever the vectors' scale.
--
--    The count alone cannot see one case: a memory rewritten while an
--    indexer batch holds its id keeps the vector the batch read (the old
--    one) in memory_vectors until the next batch, and is queued again
--    meanwhile. So the queue also holds each queued memory's namespace
--    (the one written), indexed, and a namespace with a queued memory is
--    read from memory_records whatever the counts say.
--
--    The rows already indexed are not rewritten here: the table is emptied
--    and every memory queued again, which costs a boot little at any size;
--    the indexer then rebuilds (a backlog this large is indexed by
--    rebuilding, vectorindex.go), and meanwhile recall reads the scope from
--    memory_records, as it did before this migration.
--
-- 2. The full-text list: the GIN index on content_tsv becomes a GIN index
--    on content_tsv plus one lexeme naming the memory's namespace (a space
--    first: the text parser never makes a lexeme with a space), so that a
--    scope's matches are one GIN scan of (the query's words) AND (one of the
--    scope's namespaces): GIN skips through the words' postings along the
--    namespaces' short ones. Built here: about 0.6 s per 100,000 memories.
--    The lexeme holds the name's first 500 characters (a lexeme is at most
--    2 KB); recall rechecks the name itself. Its pending list (GIN's
--    fastupdate: new entries wait there, unsorted, to be merged in bulk) is
--    kept to 64 kB, not 4 MB: every scan reads the whole pending list, and
--    4 MB of it after a bulk load made a 10,000-memory recall's full-text
--    list take 8 ms instead of 0.4 ms.
--
-- {{schema}} and {{dim}} as in 0001_init.sql. Each statement may run again.

TRUNCATE {{schema}}.memory_vectors;
ALTER TABLE {{schema}}.memory_vectors
    ADD COLUMN IF NOT EXISTS namespace  text NOT NULL,
    ADD COLUMN IF NOT EXISTS kind       text NOT NULL,
    ADD COLUMN IF NOT EXISTS expires_at timestamptz;
CREATE INDEX IF NOT EXISTS memory_vectors_namespace_idx ON {{schema}}.memory_vectors
    (namespace) INCLUDE (kind, expires_at, id, embedding);
ALTER TABLE {{schema}}.memory_vector_queue ADD COLUMN IF NOT EXISTS namespace text;
CREATE INDEX IF NOT EXISTS memory_vector_queue_namespace_idx ON {{schema}}.memory_vector_queue (namespace);
INSERT INTO {{schema}}.memory_vector_queue (id, namespace)
    SELECT id, namespace FROM {{schema}}.memory_records WHERE embedding IS NOT NULL
    ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace;

CREATE INDEX IF NOT EXISTS memory_records_scoped_tsv_idx ON {{schema}}.memory_records
    USING gin ((content_tsv || array_to_tsvector(ARRAY[' ' || left(namespace, 500)])))
    WITH (gin_pending_list_limit = 64);
DROP INDEX IF EXISTS {{schema}}.memory_records_content_tsv_idx;
