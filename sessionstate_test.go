package runway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
	"github.com/runwaydb/runway/report"
)

// A migration that changes where the session's unqualified names point
// (PostgreSQL SET search_path, MySQL USE) does not move Runway's history:
// its rows are written where the history was when the lock was taken.
func TestMigrationsThatMoveTheSession(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"postgres", "mysql"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, name)
			drv := tg.open(t)
			var set map[string]string
			if name == "postgres" {
				set = map[string]string{
					"0001_schema.up.sql": "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE t (id int);\n",
					"0002_more.up.sql":   "-- runway:no-transaction\nSET search_path TO app;\nCREATE TABLE u (id int);\nINSERT INTO u VALUES (1);\n",
				}
			} else {
				other := fmt.Sprintf("rw_moved_%d", time.Now().UnixNano()%1e9)
				t.Cleanup(func() { drv.Exec(ctx, migration.Statement{SQL: "DROP DATABASE IF EXISTS " + other}) })
				set = map[string]string{
					"0001_schema.up.sql": "CREATE DATABASE " + other + ";\nUSE " + other + ";\nCREATE TABLE t (id int);\n",
					"0002_more.up.sql":   "USE " + other + ";\nCREATE TABLE u (id int);\nINSERT INTO u VALUES (1);\n",
				}
			}
			var kv []string
			for k, v := range set {
				kv = append(kv, k, v)
			}
			src := files(kv...)
			rep := mustUp(t, tg.open(t), src)
			if len(rep.Applied) != 2 {
				t.Fatalf("applied %+v", rep.Applied)
			}
			h := history(t, drv)
			for _, v := range []string{"1", "2"} {
				if h[v].State != database.StateApplied {
					t.Errorf("history row %s: %+v, want applied where the history is", v, h[v])
				}
			}
			if rep := mustUp(t, tg.open(t), src); rep.Status != report.StatusNoop {
				t.Errorf("second up: %s, want noop", rep.Status)
			}
			if q, ok := drv.(database.Querier); ok {
				rows, err := q.QueryStrings(ctx, "SELECT COUNT(*) FROM runway_migrations")
				if err != nil || *rows[0][0] != "2" {
					t.Errorf("the history table where it was: %v %v", rows, err)
				}
			}
		})
	}
}

// A migration's SET search_path does not reach the next migration, however
// the migrations are batched: each starts from the session's own path.
func TestSearchPathDoesNotCarryOver(t *testing.T) {
	ctx := context.Background()
	set := files(
		"0001_app.up.sql", "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE a (id int);\n",
		"0002_next.up.sql", "CREATE TABLE b (id int);\n",
	)
	for _, steps := range []int{0, 1} {
		t.Run(fmt.Sprintf("steps %d", steps), func(t *testing.T) {
			tg := newTarget(t, "postgres")
			drv := tg.open(t)
			for {
				r, err := runway.New(tg.open(t), set)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := r.Up(ctx, runway.UpOptions{Steps: steps})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Status == report.StatusNoop || steps == 0 {
					break
				}
			}
			q := drv.(database.Querier)
			rows, err := q.QueryStrings(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'b'")
			if err != nil || len(rows) != 1 || *rows[0][0] != "public" {
				t.Errorf("table b of migration 2 is in %v (%v), want public", rows, err)
			}
		})
	}
}
