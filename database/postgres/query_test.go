package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/drivertest"
	"github.com/runwaydb/runway/internal/testdb"
)

// The driver on an application's own connection (New) passes what one
// opened by Open does, and Close closes that connection.
func TestConformanceOnApplicationConnection(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (database.Driver, drivertest.Session) {
		url := testdb.Postgres(t)
		session := func(t *testing.T) database.Driver {
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			d := New(conn, database.Config{Identity: "runway conformance (New)"})
			t.Cleanup(func() {
				d.Close(context.Background())
				if !conn.IsClosed() {
					t.Error("Close left the application's connection open")
				}
			})
			return d
		}
		return session(t), session
	})
}

func TestQueryStrings(t *testing.T) {
	ctx := context.Background()
	url := testdb.Postgres(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	onConn := New(conn, database.Config{})
	t.Cleanup(func() { onConn.Close(ctx) })
	for name, d := range map[string]*Driver{"Open": open(t, url, database.Config{}), "New": onConn} {
		t.Run(name, func(t *testing.T) {
			rows, err := d.QueryStrings(ctx, "SELECT $1::text, $2::int + 1, $3::text IS NULL, NOT $4::bool, $5::bytea, NULL::text, v FROM (VALUES (1), (2)) AS t (v) ORDER BY v",
				"it's $2 -- not a comment", 41, nil, true, []byte("ab"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				var cells []string
				for _, c := range r {
					if c == nil {
						cells = append(cells, "NULL")
					} else {
						cells = append(cells, *c)
					}
				}
				got = append(got, strings.Join(cells, "|"))
			}
			want := []string{`it's $2 -- not a comment|42|t|f|\x6162|NULL|1`, `it's $2 -- not a comment|42|t|f|\x6162|NULL|2`}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if rows, err := d.QueryStrings(ctx, "SELECT 1 WHERE false"); err != nil || len(rows) != 0 {
				t.Fatalf("no rows: %v, %v", rows, err)
			}
			if _, err := d.QueryStrings(ctx, "SELECT $1::float8", 1.5); err == nil || !strings.Contains(err.Error(), "unsupported type float64") {
				t.Fatalf("a float argument: %v, want unsupported", err)
			}
			if _, err := d.QueryStrings(ctx, "SELECT 1 FROM no_such_table"); err == nil || !strings.Contains(err.Error(), "42P01") {
				t.Fatalf("a missing table: %v, want 42P01", err)
			}
			// The session is usable after the errors.
			if rows, err := d.QueryStrings(ctx, "SELECT 'ok'"); err != nil || len(rows) != 1 || *rows[0][0] != "ok" {
				t.Fatalf("after the errors: %v, %v", rows, err)
			}
		})
	}
}

// A lease check refused before a history write is the lock table's
// refusal: the history write that carries it does not mark it again as the
// history table's.
func TestRefusedMarksOnce(t *testing.T) {
	denied := &pgconn.PgError{Code: "42501", Message: "permission denied for table runway_migrations_lock"}
	lock := refused(denied, database.ErrLockRefused)
	for _, err := range []error{refusedWrite(lock), refusedWrite(fmt.Errorf("postgres: confirming the migration lease: %w", lock))} {
		if !errors.Is(err, database.ErrLockRefused) || strings.Contains(err.Error(), "history table") {
			t.Errorf("%v: want the lock table's refusal alone", err)
		}
	}
	if err := refusedWrite(denied); errors.Is(err, database.ErrLockRefused) || !errors.Is(err, database.ErrHistoryRefused) {
		t.Errorf("%v: want the history table's refusal", err)
	}
	if err := refused(&pgconn.PgError{Code: "42P01"}, database.ErrLockRefused); errors.Is(err, database.ErrHistoryRefused) {
		t.Errorf("%v: marked, but not refused for want of rights", err)
	}
}
