package runway_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/migration"
)

// A schema dump is how a team starts its migrations on a database it
// already has. The dump the database's own tool writes today applies as a
// first migration, and builds the schema it was taken from: pg_dump's (with
// its \restrict and \unrestrict lines, its search_path emptied for the
// session) and mariadb-dump's (with triggers, routines and events between
// DELIMITER lines, without LOCK TABLES).
func TestSchemaDumpsAreMigrations(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pgDump := testdb.Program(t, "pg_dump")
		src, dst := newTarget(t, "postgres"), newTarget(t, "postgres")
		build(t, src, `CREATE TYPE mood AS ENUM ('ok', 'not;ok')`,
			`CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL DEFAULT 'a;b', m mood, at timestamptz)`,
			`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.at := now(); RETURN NEW; END $$`,
			`CREATE TRIGGER notes_touch BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION touch()`,
			`CREATE VIEW recent AS SELECT id, body FROM notes WHERE at > now() - interval '1 day'`,
			`COMMENT ON TABLE notes IS 'it''s; a note'`,
			`CREATE SCHEMA audit`, `CREATE TABLE audit.log (id int GENERATED ALWAYS AS IDENTITY, note_id bigint REFERENCES notes)`)
		dump := run(t, pgDump, "-s", "-d", src.url)
		dir := t.TempDir()
		write(t, dir, "0001_schema.up.sql", dump)
		write(t, dir, "0002_after.up.sql", "CREATE TABLE after_dump (id int);\n")
		drv := dst.open(t)
		mustUp(t, drv, os.DirFS(dir))
		if !exists(t, drv, "public.after_dump") {
			t.Error("the migration after the dump did not create its table in public: the dump's empty search_path outlived it")
		}
		restrict := regexp.MustCompile(`(?m)^\\(un)?restrict .*\n`)
		want := restrict.ReplaceAllString(dump, "")
		got := restrict.ReplaceAllString(run(t, pgDump, "-s", "-T", "public.runway_migrations", "-T", "public.after_dump", "-d", dst.url), "")
		if got != want {
			t.Errorf("the schema built from the dump differs from the one dumped:\n%s", firstDiff(want, got))
		}
	})
	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		mariadbDump := testdb.Program(t, "mariadb-dump")
		src, dst := newTarget(t, "mysql"), newTarget(t, "mysql")
		build(t, src, "CREATE TABLE notes (id int AUTO_INCREMENT PRIMARY KEY, body varchar(50) NOT NULL DEFAULT 'a;b', at datetime)",
			"CREATE TRIGGER notes_touch BEFORE INSERT ON notes FOR EACH ROW BEGIN IF NEW.at IS NULL THEN SET NEW.at = NOW(); END IF; END",
			"CREATE PROCEDURE prune(IN n int) BEGIN DELETE FROM notes WHERE id < n; SELECT ROW_COUNT(); END",
			"CREATE FUNCTION twice(x int) RETURNS int DETERMINISTIC RETURN x * 2",
			"CREATE VIEW recent AS SELECT id, body FROM notes",
			"CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM notes WHERE at < NOW() - INTERVAL 1 YEAR",
			"INSERT INTO notes (body) VALUES ('one'), ('it''s; two')")
		args := func(u string, more ...string) []string {
			p, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			pass, _ := p.User.Password()
			return append([]string{"-h", p.Hostname(), "-P", p.Port(), "-u", p.User.Username(), "--password=" + pass, "--protocol=tcp"},
				append(more, strings.TrimPrefix(p.Path, "/"))...)
		}
		dump := run(t, mariadbDump, args(src.url, "--routines", "--triggers", "--events", "--skip-add-locks")...)
		dir := t.TempDir()
		write(t, dir, "0001_schema.up.sql", dump)
		mustUp(t, dst.open(t), os.DirFS(dir))
		schema := func(u string) string {
			db := strings.TrimPrefix(must(url.Parse(u)).Path, "/")
			return run(t, mariadbDump, args(u, "--no-data", "--skip-comments", "--routines", "--triggers", "--events",
				"--ignore-table="+db+".runway_migrations")...)
		}
		if want, got := schema(src.url), schema(dst.url); got != want {
			t.Errorf("the schema built from the dump differs from the one dumped:\n%s", firstDiff(want, got))
		}
		rows, err := dst.open(t).(database.Querier).QueryStrings(context.Background(), "SELECT COUNT(*) FROM notes WHERE body = 'it''s; two'")
		if err != nil || *rows[0][0] != "1" {
			t.Errorf("the dump's rows: %v, %v", rows, err)
		}
	})
}

func build(t *testing.T, tg target, stmts ...string) {
	t.Helper()
	drv := tg.open(t)
	for _, s := range stmts {
		if err := drv.Exec(context.Background(), migration.Statement{SQL: s, Line: 1}); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s", filepath.Base(name), err, stderr)
	}
	return string(out)
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// firstDiff shows the first line where got departs from want.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

// A dump taken from MySQL 8 or Percona Server holds statements that are
// one executable comment of a version MariaDB skips (/*!80000 SET …*/;,
// /*!50717 SELECT …*/;), and MySQL skips MariaDB's /*M!…*/. The server
// takes such a statement for an empty one, which is no error sent alone,
// but a syntax error when the statement's record follows it in one
// message: the migration failed at a line that does nothing, on every
// rerun. Each sits first, in the middle, last, and alone in a migration.
func TestSkippedExecutableCommentsApply(t *testing.T) {
	t.Parallel()
	drv := newTarget(t, "mysql").open(t)
	mustUp(t, drv, files(
		"0001_gated.up.sql", "/*!80000 SET SESSION information_schema_stats_expiry = 0 */;\nCREATE TABLE gated (id int);\n"+
			"/*!50717 SELECT COUNT(*) INTO @n FROM gated */;\nINSERT INTO gated VALUES (1);\n-- the dump's last line\n/*!99999 SET @x = 1 */;\n",
		"0002_alone.up.sql", "/*!80013 SET @y = 1 */;\n",
		"0003_mariadb.up.sql", "/* lead */ /*M!999999 SET @z = 1 */;\n/*!40101 SET @w = 2 */;\nINSERT INTO gated VALUES (2);\n",
		"0004_two.up.sql", "/*!80000 SET @a = 1 */ /*!80000 SET @b = 1 */;\n/*!80000 SET @c = 1 /* inner */ */;\nINSERT INTO gated VALUES (3);\n",
	))
	h := history(t, drv)
	for v, n := range map[string]int{"1": 5, "2": 1, "3": 3, "4": 3} {
		if r := h[v]; r.State != database.StateApplied || r.StatementsApplied != n {
			t.Errorf("version %s: %s with %d statements; want applied with %d", v, r.State, r.StatementsApplied, n)
		}
	}
	if !exists(t, drv, "gated") {
		t.Error("table gated was not created")
	}
}
