package compat

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/adopt"
)

// adoptIn runs Runway's adopt from tool on e's database with the files of dir.
func adoptIn(t *testing.T, e engine, dir string, tool adopt.Tool) ([]string, error) {
	t.Helper()
	drv := e.driver(t)
	r, err := runway.New(drv, os.DirFS(dir), runway.WithIdentity("compat-test"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Adopt(context.Background(), tool)
	var vs []string
	if rep != nil {
		for _, a := range rep.Applied {
			vs = append(vs, a.Version)
		}
	}
	revs, herr := drv.History(context.Background())
	if herr != nil {
		t.Fatal(herr)
	}
	if err != nil && len(revs) > 0 {
		t.Errorf("a refused adopt left %d rows in Runway's history", len(revs))
	}
	return vs, err
}

func wantRefusal(t *testing.T, err error, kind, text string) {
	t.Helper()
	var ve *runway.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, runway.ErrValidation) {
		t.Fatalf("adopt: %v, want a *ValidationError", err)
	}
	if len(ve.Problems) == 0 || ve.Problems[0].Kind != kind || !strings.Contains(err.Error(), text) {
		t.Fatalf("adopt: %v, want a %q problem mentioning %q", err, kind, text)
	}
}

func peerOf(tool adopt.Tool) peer {
	for _, p := range peers {
		if p.tool == tool {
			return p
		}
	}
	panic(tool)
}

// TestAdoptSemantics checks the cases where the tool's history is not simply
// "every file applied", on each server.
func TestAdoptSemantics(t *testing.T) {
	for _, e := range engines(t, true) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()

			t.Run("golang-migrate dirty", func(t *testing.T) {
				e := e
				e.newDB(t)
				p := peerOf(adopt.GolangMigrate)
				dir := t.TempDir()
				writeFiles(t, dir, p.file(1, "alpha"))
				writeFiles(t, dir, map[string]string{"2_broken.up.sql": "CREATE TABLE alpha (id int);\n", "2_broken.down.sql": "SELECT 1;\n"})
				if err := p.migrate(t, e, dir); err == nil {
					t.Fatal("golang-migrate applied a broken migration")
				}
				_, err := adoptIn(t, e, dir, adopt.GolangMigrate)
				wantRefusal(t, err, "unfinished", "migrate force")
			})

			t.Run("goose version without a file", func(t *testing.T) {
				e := e
				e.newDB(t)
				p := peerOf(adopt.Goose)
				dir := t.TempDir()
				writeFiles(t, dir, p.file(1, "alpha"))
				writeFiles(t, dir, p.file(2, "beta"))
				if err := p.migrate(t, e, dir); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(dir + "/00002_create_beta.sql"); err != nil {
					t.Fatal(err)
				}
				_, err := adoptIn(t, e, dir, adopt.Goose)
				wantRefusal(t, err, "missing", "goose records it as applied")
			})

			t.Run("goose down", func(t *testing.T) {
				e := e
				e.newDB(t)
				p := peerOf(adopt.Goose)
				dir := t.TempDir()
				writeFiles(t, dir, p.file(1, "alpha"))
				writeFiles(t, dir, p.file(2, "beta"))
				if err := p.migrate(t, e, dir); err != nil {
					t.Fatal(err)
				}
				dialect := map[string]goose.Dialect{"postgres": goose.DialectPostgres, "mysql": goose.DialectMySQL, "sqlite": goose.DialectSQLite3}[e.name]
				gp, err := goose.NewProvider(dialect, e.sqlDB(t), os.DirFS(dir))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := gp.Down(context.Background()); err != nil {
					t.Fatal(err)
				}
				vs, err := adoptIn(t, e, dir, adopt.Goose)
				if err != nil || strings.Join(vs, " ") != "1" {
					t.Fatalf("adopt after goose down: %v, %v; want [1]", vs, err)
				}
			})

			t.Run("flyway failed row", func(t *testing.T) {
				e := e
				e.newDB(t)
				p := peerOf(adopt.Flyway)
				dir := t.TempDir()
				writeFiles(t, dir, p.file(1, "alpha"))
				if err := p.migrate(t, e, dir); err != nil {
					t.Fatal(err)
				}
				writeFiles(t, dir, p.file(2, "beta"))
				// What Flyway records when V2 fails on a database whose DDL
				// does not roll back (MySQL): the row stays, success false.
				db := e.sqlDB(t)
				q := "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (10, '2', 'create beta', 'SQL', 'V2__create_beta.sql', 1, 'flyway', 1, false)"
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
				_, err := adoptIn(t, e, dir, adopt.Flyway)
				wantRefusal(t, err, "unfinished", "flyway repair")
			})

			t.Run("no history of that tool", func(t *testing.T) {
				e := e
				e.newDB(t)
				dir := t.TempDir()
				writeFiles(t, dir, peerOf(adopt.Dbmate).file(1, "alpha"))
				_, err := adoptIn(t, e, dir, adopt.Dbmate)
				if !errors.Is(err, adopt.ErrNoHistory) {
					t.Fatalf("adopt: %v, want ErrNoHistory", err)
				}
			})
		})
	}
}
