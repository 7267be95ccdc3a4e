package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// Other tools' history tables are looked for in the current schema, where
// Runway's own would go: one in another schema is not found until the
// search path names that schema; a relation of a tool's name that is not a
// table (an index) is not a tool's, nor is a table under the name in
// another case.
func TestDetectOtherToolsInTheCurrentSchema(t *testing.T) {
	url := testdb.Postgres(t)
	ctx := context.Background()
	d := open(t, url, database.Config{Identity: "public"})
	for _, sql := range []string{
		`CREATE SCHEMA "App S"`,
		`CREATE TABLE "App S".goose_db_version (id serial primary key, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp)`,
		`CREATE INDEX schema_migrations ON "App S".goose_db_version (version_id)`,
		`CREATE TABLE "App S"."GORP_MIGRATIONS" (id text primary key, applied_at timestamptz)`,
	} {
		query(t, d, sql)
	}
	detect := func(d *Driver) []adopt.Tool {
		t.Helper()
		tools, err := adopt.Detect(ctx, d, migration.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		return tools
	}
	if got := detect(d); len(got) != 0 {
		t.Errorf("with the tables in another schema: Detect = %v, want none", got)
	}
	// search_path="App\ S" (the options' words are split at spaces).
	onApp := open(t, withSearchPath(url, "%22App%5C%20S%22"), database.Config{Identity: "on App S"})
	if got := query(t, onApp, "SELECT current_schema()"); got != "App S" {
		t.Fatalf("current_schema() = %q, want App S", got)
	}
	if got, want := detect(onApp), []adopt.Tool{adopt.Goose}; !slices.Equal(got, want) {
		t.Errorf("with the search path on the tables' schema: Detect = %v, want %v", got, want)
	}
}
