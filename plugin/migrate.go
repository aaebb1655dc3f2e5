package plugin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// adoptPlatformSQL replaces migration 1 where the schema already holds the
// tables of the platform's plugin.
//
//go:embed adopt_platform.sql
var adoptPlatformSQL string

// adoptedName is how migration 1 is recorded when it adopted those tables.
const adoptedName = "0001_init adopted from memory-plugin-postgres"

// withPgvectorOnPath appends the schema pgvector is installed in to the
// session's search_path when it is not already on it: the platform's plugin
// created the extension in its own schema (memory_plugin) or found it in
// public, and the type and operators are then only found by name through the
// search_path. is_local: true limits it to the transaction.
const withPgvectorOnPath = `SELECT set_config('search_path', current_setting('search_path') || ', ' || quote_ident(n.nspname), $1)
	FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'vector' AND NOT (n.nspname = ANY (current_schemas(false)))`

// minPgvector is the first pgvector with iterative index scans, which filtered
// vector queries need to still return `limit` rows.
const minPgvector = "0.8.0"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_description.sql.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration file %s: name must start with a version number", name)
		}
		sql, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(sql)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// A PgvectorError says the pgvector extension is missing or unusable, with
// what the operator must do about it.
type PgvectorError struct {
	Database string // e.g. database "tenant" on db.internal:5432
	Err      error
}

func (e *PgvectorError) Error() string {
	return fmt.Sprintf("pgvector: the memory plugin needs the PostgreSQL extension pgvector (%s) in %s, and it is not usable: %v. "+
		"Install pgvector for this PostgreSQL server (Debian/Ubuntu: postgresql-<version>-pgvector), "+
		"or have a superuser run `CREATE EXTENSION vector;` in that database, "+
		"or keep the memory-plugin sidecar off (MEMORY_PLUGIN_DISABLE=1, or no memory v2 cutover)",
		">= "+minPgvector, e.Database, e.Err)
}

func (e *PgvectorError) Unwrap() error { return e.Err }

// A DimensionError says the configured embedding dimension differs from the
// one the schema was created with.
type DimensionError struct {
	Schema            string
	Stored, Requested int
}

func (e *DimensionError) Error() string {
	return fmt.Sprintf("%s=%d, but schema %q stores %d-dimensional embeddings: changing the dimension needs a re-embed. "+
		"Set %s=%d, or point %s at a new schema and backfill into it",
		EnvEmbeddingDim, e.Requested, e.Schema, e.Stored, EnvEmbeddingDim, e.Stored, EnvSchema)
}

// migrate brings the schema up to date in one transaction under an advisory
// lock: two plugins booting against one database serialise here, and the second
// finds nothing left to do. Only what is missing is created, so a role that
// cannot create extensions or schemas boots fine once they exist.
func migrate(ctx context.Context, conn *pgx.Conn, schema string, dim int, database string, log *zap.Logger) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrating %s: %w", database, err)
	}
	defer tx.Rollback(context.Background())

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrating %s: taking the migration lock: %w", database, err)
	}
	if err := ensurePgvector(ctx, tx, database, log); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, withPgvectorOnPath, true); err != nil {
		return fmt.Errorf("migrating %s: finding pgvector's schema: %w", database, err)
	}
	q := quoteIdent(schema)
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("migrating %s: %w", database, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+q); err != nil {
			return fmt.Errorf("migrating %s: creating schema %s: %w", database, q, err)
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+`.schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrating %s: creating the version table: %w", database, err)
	}
	applied := map[int]bool{}
	rows, _ := tx.Query(ctx, "SELECT version FROM "+q+".schema_migrations")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("migrating %s: reading the version table: %w", database, err)
	}
	for _, v := range versions {
		applied[v] = true
	}
	expand := strings.NewReplacer("{{schema}}", q, "{{dim}}", strconv.Itoa(dim))
	if !applied[1] {
		// Tables without our record of creating them are the platform's
		// plugin's: adopt them instead of failing on CREATE TABLE.
		var platform bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", q+".memory_records").Scan(&platform); err != nil {
			return fmt.Errorf("migrating %s: %w", database, err)
		}
		if platform {
			ms[0] = migration{version: 1, name: adoptedName, sql: adoptPlatformSQL}
			log.Info("adopting the tables of the platform's plugin (memory-plugin-postgres): "+
				"the boot changes only the catalog; memories are embedded and indexed in the background after it",
				zap.String("schema", schema))
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, expand.Replace(m.sql)); err != nil {
			return fmt.Errorf("migrating %s: migration %s: %w", database, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+q+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("migrating %s: recording migration %s: %w", database, m.name, err)
		}
		log.Info("migration applied", zap.String("migration", m.name), zap.String("schema", schema))
	}
	// The column's type modifier is the one record of the dimension.
	var stored int
	err = tx.QueryRow(ctx, `SELECT atttypmod FROM pg_attribute
		WHERE attrelid = ($1 || '.memory_records')::regclass AND attname = 'embedding'`, q).Scan(&stored)
	if err != nil {
		return fmt.Errorf("migrating %s: reading the embedding dimension: %w", database, err)
	}
	if stored != dim {
		return &DimensionError{Schema: schema, Stored: stored, Requested: dim}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrating %s: committing: %w", database, err)
	}
	return nil
}

// ensurePgvector creates the extension when it is missing and checks its version.
func ensurePgvector(ctx context.Context, tx pgx.Tx, database string, log *zap.Logger) error {
	var version string
	err := tx.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := tx.Exec(ctx, "CREATE EXTENSION vector"); err != nil {
			return &PgvectorError{Database: database, Err: fmt.Errorf("CREATE EXTENSION vector failed: %w", err)}
		}
		err = tx.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&version)
		log.Info("created extension", zap.String("extension", "vector"), zap.String("version", version))
	}
	if err != nil {
		return fmt.Errorf("migrating %s: reading the pgvector version: %w", database, err)
	}
	if versionLess(version, minPgvector) {
		return &PgvectorError{Database: database, Err: fmt.Errorf("version %s is installed; update it (ALTER EXTENSION vector UPDATE after installing a newer pgvector)", version)}
	}
	return nil
}

// versionLess compares dotted numeric versions such as 0.7.4 and 0.8.0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// migrationLock is the advisory lock key of memory-plugin migrations in a
// database. One key for every
// schema: CREATE EXTENSION is database-wide, so plugins with different schemas
// must not race on it either.
const migrationLock int64 = 0x6d656d706c756731 // "memplug1"

// quoteIdent quotes an identifier (which Config already restricts to
// [a-z0-9_]) for SQL text.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
