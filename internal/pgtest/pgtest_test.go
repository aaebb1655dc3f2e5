package pgtest

import (
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestNewGivesADatabaseWherePgvectorCanBeCreated(t *testing.T) {
	conn := Connect(t, New(t))
	if _, err := conn.Exec(context.Background(), "CREATE EXTENSION vector"); err != nil {
		t.Fatalf("CREATE EXTENSION vector: %v", err)
	}
	var d float64
	if err := conn.QueryRow(context.Background(), "SELECT '[1,0]'::vector <=> '[0,1]'::vector").Scan(&d); err != nil || d != 1 {
		t.Fatalf("cosine distance = %v, %v; want 1", d, err)
	}
}

func TestAClusterWithoutPgvectorReallyLacksTheExtension(t *testing.T) {
	SkipShort(t)
	c, err := StartCluster(Options{WithoutPgvector: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := Connect(t, c.Server().CreateDatabase(t))
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("pg_available_extensions lists vector %d times; want none", n)
	}
	_, err = conn.Exec(context.Background(), "CREATE EXTENSION vector")
	if err == nil {
		t.Fatal("CREATE EXTENSION vector succeeded on a cluster without pgvector")
	}
	t.Logf("as expected: %v", err)
}
