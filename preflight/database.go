package preflight

import (
	"context"
	"errors"
	"fmt"
	"github.com/agentplatform/tenant-init/cutover"
	"github.com/jackc/pgx/v5"
)

// checkDatabase connects to the plugin's database within ctx's deadline and
// returns the open connection for the pgvector check (nil when it failed).
func checkDatabase(ctx context.Context, databaseURL string) (Result, *pgx.Conn) {
	where := cutover.RedactDatabaseURL(databaseURL)
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fail(CheckDatabase,
			"check that the database server runs and that MEMORY_PLUGIN_DATABASE_URL (or DATABASE_URL) names the right host, port, database and credentials",
			"%s does not answer: %v", where, err), nil
	}
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		conn.Close(context.Background())
		return fail(CheckDatabase, "", "%s accepted the connection but a query failed: %v", where, err), nil
	}
	return pass(CheckDatabase, "%s answers: PostgreSQL %s", where, version), conn
}

// checkPgvector tells whether the memory plugin's migration would find the
// vector extension: installed already, or available and creatable by this role.
// pgvector is not a trusted extension, so creating it takes a superuser unless
// the database's owner marked it otherwise.
func checkPgvector(ctx context.Context, conn *pgx.Conn) Result {
	const q = `
SELECT e.default_version,
       COALESCE(e.installed_version, ''),
       COALESCE(v.superuser, true),
       COALESCE(v.trusted, false),
       r.rolsuper,
       has_database_privilege(current_database(), 'CREATE'),
       current_user,
       current_database(),
       current_setting('server_version_num')::int / 10000
FROM pg_available_extensions e
LEFT JOIN pg_available_extension_versions v ON v.name = e.name AND v.version = e.default_version
CROSS JOIN pg_roles r
WHERE e.name = 'vector' AND r.rolname = current_user`
	var (
		defaultVersion, installed string
		needsSuper, trusted       bool
		isSuper, canCreateInDB    bool
		role, db                  string
		major                     int
	)
	err := conn.QueryRow(ctx, q).Scan(&defaultVersion, &installed, &needsSuper, &trusted, &isSuper, &canCreateInDB, &role, &db, &major)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000, current_database()").Scan(&major, &db)
		return fail(CheckPgvector, missingHint(major),
			"the vector extension is not available on this server (pg_available_extensions has no \"vector\"): the sidecar's migration would fail with `extension \"vector\" is not available`")
	}
	if err != nil {
		return fail(CheckPgvector, "", "reading pg_available_extensions: %v", err)
	}
	if installed != "" {
		return pass(CheckPgvector, "vector %s is installed in database %q", installed, db)
	}
	switch {
	case isSuper:
		return pass(CheckPgvector, "vector %s is available; role %q is a superuser and may create it in %q", defaultVersion, role, db)
	case trusted && !needsSuper && canCreateInDB:
		return pass(CheckPgvector, "vector %s is available and trusted; role %q may create it in %q", defaultVersion, role, db)
	}
	return fail(CheckPgvector,
		fmt.Sprintf("have a superuser run `CREATE EXTENSION vector;` in database %q once (the plugin then uses it without privileges), or give the plugin a role that may create it", db),
		"vector %s is available but not installed in %q, and role %q may not create it (pgvector needs a superuser to create)", defaultVersion, db, role)
}

func missingHint(major int) string {
	v := "<version>"
	if major > 0 {
		v = fmt.Sprint(major)
	}
	return "install pgvector for PostgreSQL " + v + " on the database server (Debian/Ubuntu: apt-get install postgresql-" + v +
		"-pgvector, or this repository's scripts/install-postgres.sh), then run `CREATE EXTENSION vector;` as a superuser; " +
		"or keep the bundled sidecar off until then (leave MEMORY_V2_CUTOVER unset, or set MEMORY_PLUGIN_DISABLE=1)"
}
