// Package compat tests `runway adopt` against the history tables the other
// migration tools really create: each test runs the tool's own Go library
// (goose, golang-migrate, sql-migrate, dbmate) on a real database, then has
// Runway adopt the result. Flyway is Java: its table is created with the DDL
// from Flyway's own source and filled the way Flyway fills it.
//
// It is a module of its own so that the main module's go.mod does not list
// those tools (STYLE.md rule 13); scripts/test.sh runs it after the main tests.
package compat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amacneil/dbmate/v2/pkg/dbmate"
	_ "github.com/amacneil/dbmate/v2/pkg/driver/mysql"
	_ "github.com/amacneil/dbmate/v2/pkg/driver/postgres"
	_ "github.com/amacneil/dbmate/v2/pkg/driver/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4"
	gmdatabase "github.com/golang-migrate/migrate/v4/database"
	gmmysql "github.com/golang-migrate/migrate/v4/database/mysql"
	gmpostgres "github.com/golang-migrate/migrate/v4/database/postgres"
	gmsqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	"github.com/pressly/goose/v3"
	sqlmigrate "github.com/rubenv/sql-migrate"
	_ "modernc.org/sqlite"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/database/sqlite"
	"github.com/runwaydb/runway/internal/testdb"
	"github.com/runwaydb/runway/report"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// engine is one database a test runs on.
type engine struct {
	name string // postgres, mysql, sqlite
	url  string // Runway's URL
}

func engines(t *testing.T, sqliteOK bool) []engine {
	es := []engine{{name: "postgres"}, {name: "mysql"}}
	if sqliteOK {
		es = append(es, engine{name: "sqlite"})
	}
	return es
}

// newDB gives e a fresh database.
func (e *engine) newDB(t *testing.T) {
	t.Helper()
	switch e.name {
	case "postgres":
		e.url = testdb.Postgres(t)
	case "mysql":
		e.url = testdb.MySQL(t)
	case "sqlite":
		e.url = "sqlite:" + filepath.Join(t.TempDir(), "app.db")
	}
}

// sqlDB opens e's database with database/sql for the peer tools: pgx's
// stdlib for PostgreSQL, go-sql-driver for MySQL, modernc for SQLite.
func (e engine) sqlDB(t *testing.T) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	switch e.name {
	case "postgres":
		db, err = sql.Open("pgx", e.url)
	case "mysql":
		db, err = sql.Open("mysql", mysqlDSN(t, e.url))
	case "sqlite":
		db, err = sql.Open("sqlite", strings.TrimPrefix(e.url, "sqlite:"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlDSN(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gomysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.ParseTime = true
	cfg.MultiStatements = true
	return cfg.FormatDSN()
}

// driver opens Runway's driver on e's database.
func (e engine) driver(t *testing.T) database.Driver {
	t.Helper()
	ctx := context.Background()
	var drv database.Driver
	var err error
	switch e.name {
	case "postgres":
		drv, err = postgres.Open(ctx, e.url, database.Config{})
	case "mysql":
		drv, err = mysql.Open(ctx, e.url, database.Config{})
	case "sqlite":
		drv, err = sqlite.Open(ctx, e.url, database.Config{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close(context.Background()) })
	return drv
}

// peer is one migration tool: its file layout and how to run it.
type peer struct {
	tool adopt.Tool
	// file returns the files of migration n (1, 2, 3) creating table name.
	file func(n int, table string) map[string]string
	// migrate applies every migration in dir with the tool's own library.
	migrate func(t *testing.T, e engine, dir string) error
	sqlite  bool // the tool supports SQLite
}

var peers = []peer{
	{
		tool: adopt.Goose,
		file: func(n int, table string) map[string]string {
			return map[string]string{
				name("%05d_create_%s.sql", n, table): "-- +goose Up\nCREATE TABLE " + table + " (id int);\n\n-- +goose Down\nDROP TABLE " + table + ";\n",
			}
		},
		migrate: func(t *testing.T, e engine, dir string) error {
			dialect := map[string]goose.Dialect{"postgres": goose.DialectPostgres, "mysql": goose.DialectMySQL, "sqlite": goose.DialectSQLite3}[e.name]
			p, err := goose.NewProvider(dialect, e.sqlDB(t), os.DirFS(dir))
			if err != nil {
				return err
			}
			_, err = p.Up(context.Background())
			return err
		},
		sqlite: true,
	},
	{
		tool: adopt.GolangMigrate,
		file: func(n int, table string) map[string]string {
			return map[string]string{
				name("%d_create_%s.up.sql", n, table):   "CREATE TABLE " + table + " (id int);\n",
				name("%d_create_%s.down.sql", n, table): "DROP TABLE " + table + ";\n",
			}
		},
		migrate: func(t *testing.T, e engine, dir string) error {
			src, err := iofs.New(os.DirFS(dir), ".")
			if err != nil {
				return err
			}
			var drv gmdatabase.Driver
			switch e.name {
			case "postgres":
				db, err := sql.Open("postgres", e.url) // lib/pq, as golang-migrate's postgres driver
				if err != nil {
					return err
				}
				t.Cleanup(func() { db.Close() })
				drv, err = gmpostgres.WithInstance(db, &gmpostgres.Config{})
				if err != nil {
					return err
				}
			case "mysql":
				drv, err = gmmysql.WithInstance(e.sqlDB(t), &gmmysql.Config{})
			case "sqlite":
				drv, err = gmsqlite.WithInstance(e.sqlDB(t), &gmsqlite.Config{})
			}
			if err != nil {
				return err
			}
			m, err := migrate.NewWithInstance("iofs", src, e.name, drv)
			if err != nil {
				return err
			}
			return m.Up()
		},
		sqlite: true,
	},
	{
		tool: adopt.SQLMigrate,
		file: func(n int, table string) map[string]string {
			return map[string]string{
				name("%d_create_%s.sql", n, table): "-- +migrate Up\nCREATE TABLE " + table + " (id int);\n\n-- +migrate Down\nDROP TABLE " + table + ";\n",
			}
		},
		migrate: func(t *testing.T, e engine, dir string) error {
			dialect := map[string]string{"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite3"}[e.name]
			_, err := sqlmigrate.Exec(e.sqlDB(t), dialect, &sqlmigrate.FileMigrationSource{Dir: dir}, sqlmigrate.Up)
			return err
		},
		sqlite: true,
	},
	{
		tool: adopt.Dbmate,
		file: func(n int, table string) map[string]string {
			return map[string]string{
				name("2024010100000%d_create_%s.sql", n, table): "-- migrate:up\nCREATE TABLE " + table + " (id int);\n\n-- migrate:down\nDROP TABLE " + table + ";\n",
			}
		},
		migrate: func(t *testing.T, e engine, dir string) error {
			u, err := url.Parse(e.url)
			if err != nil {
				return err
			}
			if e.name == "sqlite" {
				u, err = url.Parse("sqlite:" + strings.TrimPrefix(e.url, "sqlite:"))
				if err != nil {
					return err
				}
			}
			db := dbmate.New(u)
			db.MigrationsDir = []string{dir}
			db.AutoDumpSchema = false
			db.Log = nopWriter{}
			return db.Migrate()
		},
		sqlite: true,
	},
	{
		tool: adopt.Flyway,
		file: func(n int, table string) map[string]string {
			return map[string]string{name("V%d__create_%s.sql", n, table): "CREATE TABLE " + table + " (id int);\n"}
		},
		migrate: flywayMigrate,
		sqlite:  true,
	},
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func name(format string, n int, table string) string { return fmt.Sprintf(format, n, table) }

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tableExists(t *testing.T, e engine, table string) bool {
	t.Helper()
	db := e.sqlDB(t)
	_, err := db.Exec("SELECT count(*) FROM " + table)
	return err == nil
}

// TestAdopt: the tool migrates (two migrations); Runway detects its history,
// adopts it, then up has nothing to do; a third migration, added afterwards,
// applies normally.
func TestAdopt(t *testing.T) {
	for _, p := range peers {
		for _, e := range engines(t, p.sqlite) {
			t.Run(string(p.tool)+"/"+e.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				e.newDB(t)
				dir := t.TempDir()
				writeFiles(t, dir, p.file(1, "alpha"))
				writeFiles(t, dir, p.file(2, "beta"))
				if err := p.migrate(t, e, dir); err != nil {
					t.Fatalf("%s: %v", p.tool, err)
				}
				if !tableExists(t, e, "beta") {
					t.Fatalf("%s did not create beta", p.tool)
				}

				drv := e.driver(t)
				r, err := runway.New(drv, os.DirFS(dir), runway.WithIdentity("compat-test"))
				if err != nil {
					t.Fatal(err)
				}
				found, err := r.ForeignHistory(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != 1 || found[0] != p.tool {
					t.Fatalf("ForeignHistory = %v, want [%s]", found, p.tool)
				}
				rep, err := r.Adopt(ctx, p.tool)
				if err != nil {
					t.Fatalf("adopt: %v", err)
				}
				if got := versions(rep.Applied); got != "1 2" && got != "20240101000001 20240101000002" {
					t.Fatalf("adopt recorded %q, want both migrations", got)
				}
				revs, err := drv.History(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, rev := range revs {
					if rev.State != database.StateApplied || rev.AppliedBy != "adopted from "+string(p.tool)+" by compat-test" || rev.Checksum == "" {
						t.Errorf("revision %s: state %s, applied_by %q, checksum %q", rev.Version, rev.State, rev.AppliedBy, rev.Checksum)
					}
				}

				// up finds nothing to do: nothing runs again.
				rep, err = r.Up(ctx, runway.UpOptions{})
				if err != nil {
					t.Fatalf("up after adopt: %v", err)
				}
				if len(rep.Applied) != 0 {
					t.Fatalf("up after adopt applied %v", rep.Applied)
				}

				// adopting again is refused: Runway's history has rows.
				_, err = r.Adopt(ctx, p.tool)
				var ve *runway.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), "already has 2 row(s)") {
					t.Fatalf("second adopt: %v, want a ValidationError about existing rows", err)
				}

				// A new migration applies normally.
				writeFiles(t, dir, p.file(3, "gamma"))
				rep, err = r.Up(ctx, runway.UpOptions{})
				if err != nil {
					t.Fatalf("up with a new migration: %v", err)
				}
				if len(rep.Applied) != 1 || !tableExists(t, e, "gamma") {
					t.Fatalf("up with a new migration applied %v", rep.Applied)
				}
			})
		}
	}
}

func versions(as []report.Applied) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Version)
	}
	return strings.Join(s, " ")
}

// flywayDDL is the history table exactly as Flyway creates it, from Flyway's
// own createMetaDataTable.sql of each database (flyway-core/src/main/resources/
// org/flywaydb/core/internal/database/{postgresql,mysql,sqlite}/), with
// ${schema}.${table} filled in as Flyway does for the default schema.
var flywayDDL = map[string][]string{
	"postgres": {
		`CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
)`,
		`ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank")`,
		`CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success")`,
	},
	"mysql": {
		"CREATE TABLE `flyway_schema_history` (\n" +
			"    `installed_rank` INT NOT NULL,\n" +
			"    `version` VARCHAR(50),\n" +
			"    `description` VARCHAR(200) NOT NULL,\n" +
			"    `type` VARCHAR(20) NOT NULL,\n" +
			"    `script` VARCHAR(1000) NOT NULL,\n" +
			"    `checksum` INT,\n" +
			"    `installed_by` VARCHAR(100) NOT NULL,\n" +
			"    `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n" +
			"    `execution_time` INT NOT NULL,\n" +
			"    `success` BOOL NOT NULL,\n" +
			"    CONSTRAINT `flyway_schema_history_pk`PRIMARY KEY (`installed_rank`)\n" +
			") ENGINE=InnoDB",
		"CREATE INDEX `flyway_schema_history_s_idx` ON `flyway_schema_history` (`success`)",
	},
	"sqlite": {
		`CREATE TABLE "main"."flyway_schema_history" (
    "installed_rank" INT NOT NULL PRIMARY KEY,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INT,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
    "execution_time" INT NOT NULL,
    "success" BOOLEAN NOT NULL
)`,
		`CREATE INDEX "main"."flyway_schema_history_s_idx" ON "flyway_schema_history" ("success")`,
	},
}

// flywayMigrate does what `flyway migrate` does to the history: creates the
// table, runs each versioned script in order and inserts its row
// (installed_rank counting from 1, type SQL, success true). It also records a
// repeatable migration (NULL version), which adopt must ignore. The checksum
// is a stand-in: Flyway's CRC32 of the script's lines; adopt does not read it.
func flywayMigrate(t *testing.T, e engine, dir string) error {
	db := e.sqlDB(t)
	ph := func(n int) string {
		if e.name == "postgres" {
			return "$" + string(rune('0'+n))
		}
		return "?"
	}
	for _, stmt := range flywayDDL[e.name] {
		if _, err := db.Exec(stmt); err != nil {
			return err
		}
	}
	insert := "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (" +
		ph(1) + ", " + ph(2) + ", " + ph(3) + ", " + ph(4) + ", " + ph(5) + ", " + ph(6) + ", " + ph(7) + ", " + ph(8) + ", " + ph(9) + ")"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	rank := 0
	for _, f := range entries {
		text, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := db.Exec(string(text)); err != nil {
			return err
		}
		rank++
		version, desc, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(f.Name(), "V"), ".sql"), "__")
		if _, err := db.Exec(insert, rank, version, strings.ReplaceAll(desc, "_", " "), "SQL", f.Name(), int32(len(text)), "flyway", time.Since(start).Milliseconds(), true); err != nil {
			return err
		}
	}
	rank++
	_, err = db.Exec(insert, rank, nil, "views", "SQL", "R__views.sql", 42, "flyway", 1, true)
	return err
}
