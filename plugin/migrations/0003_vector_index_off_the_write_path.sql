-- The HNSW index leaves the write path. Inserting a row into an HNSW graph
-- (m 16, ef_construction 64) searches the graph for its neighbours: it was
-- most of the database's work of every commit and batch, and it caps a load
-- below 5,000 memories/s on one core. Recall over the platform's usual
-- scopes (a workspace's three namespaces) never used it: scopes of up to
-- 5,000 memories are scanned exactly (plugin/search.go).
--
-- Now a write puts the memory's id in memory_vector_queue (one small btree
-- entry, in the write's own statement), and the plugin's background indexer
-- (plugin/vectorindex.go) moves queued memories into memory_vectors, which
-- holds the HNSW index, in batches: each batch deletes its ids from the
-- queue and inserts their vectors in one transaction, so a crash loses
-- nothing and a restart resumes from the queue. Recall over a large scope
-- reads the HNSW index for indexed memories and the queue, exactly, for the
-- rest, so a memory is found from its 201 on.
--
-- The indexed copy is halfvec: half the size of vector in the heap and the
-- graph, and recall ranks the candidates by the exact distance of the
-- memory's own vector column anyway.
CREATE TABLE IF NOT EXISTS {{schema}}.memory_vectors (
    id        uuid PRIMARY KEY REFERENCES {{schema}}.memory_records (id) ON DELETE CASCADE,
    embedding halfvec({{dim}}) NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_vectors_embedding_idx ON {{schema}}.memory_vectors
    USING hnsw (embedding halfvec_cosine_ops);

-- Memories written but not yet in memory_vectors (or rewritten since). No
-- foreign key: a deleted memory's id is dropped by the indexer when it finds
-- no row.
CREATE TABLE IF NOT EXISTS {{schema}}.memory_vector_queue (
    id uuid PRIMARY KEY
);

-- Every memory embedded so far is indexed by the background indexer after
-- this boot (an adoption in progress queues the rest as it embeds them).
INSERT INTO {{schema}}.memory_vector_queue (id)
    SELECT id FROM {{schema}}.memory_records WHERE embedding IS NOT NULL
    ON CONFLICT (id) DO NOTHING;
DROP INDEX IF EXISTS {{schema}}.memory_records_embedding_idx;
