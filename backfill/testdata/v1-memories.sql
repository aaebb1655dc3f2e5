-- Test fixture: the shape of the legacy (v1) tables described in
-- docs/legacy-v1-tables.md. The backfill's tests and the e2e runbook test build
-- their v1 database from this file; change it and that page together, and only
-- when deployed tenants changed.

-- The legacy (v1) memory tables that memory-backfill reads, as they exist in a
-- tenant's platform database. Column names and types are the ones deployed tenants
-- have; the backfill must work against exactly this shape and must not require
-- anything beyond it. Some tenants lack the optional columns (marked below).

CREATE TABLE IF NOT EXISTS workspaces (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL,
    status      TEXT DEFAULT 'provisioning',   -- 'removed' marks a deleted workspace
    parent_id   UUID REFERENCES workspaces(id), -- NULL for a root (org) workspace
    created_at  TIMESTAMPTZ DEFAULT now(),
    updated_at  TIMESTAMPTZ DEFAULT now()
    -- deployed tables have more columns (role, tier, url, agent_card, ...); ignore them
);

CREATE TABLE IF NOT EXISTS agent_memories (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  UUID REFERENCES workspaces(id),
    content       TEXT NOT NULL,
    scope         VARCHAR(10) NOT NULL CHECK (scope IN ('LOCAL', 'TEAM', 'GLOBAL')),
    created_at    TIMESTAMPTZ DEFAULT now(),
    updated_at    TIMESTAMPTZ DEFAULT now(),
    -- optional, added by a later migration on most tenants:
    namespace     VARCHAR(50) NOT NULL DEFAULT 'general'
    -- optional on tenants that had pgvector: embedding vector(1536)
    -- optional: content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);

-- Namespace resolution used by the platform (v2):
--   workspace:<workspace_id>                 LOCAL memories
--   team:<parent_id, or the workspace itself when it is a root>   TEAM memories
--   org:<root workspace id of the chain>     GLOBAL memories
-- The chain is followed through workspaces.parent_id (at most 50 hops).
