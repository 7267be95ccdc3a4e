// Package adopt reads the history tables of other migration tools —
// golang-migrate, goose, sql-migrate, dbmate and Flyway — so that Runway can
// take over a database without running anything again. It only reads, through
// a database.Querier; recording the result in Runway's history is the
// engine's business (runway.Runner.Adopt).
//
// Each reader follows the tool's own semantics, checked against its source:
// the table it creates on each database, what a row means, and which rows say
// that its history is unfinished.
package adopt

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// Tool is another migration tool whose history Runway can adopt.
type Tool string

// The tools Runway can adopt from, named as on the command line.
const (
	// GolangMigrate is github.com/golang-migrate/migrate: schema_migrations
	// (version bigint, dirty boolean) holds one row, the current version.
	GolangMigrate Tool = "golang-migrate"
	// Goose is github.com/pressly/goose: goose_db_version (id, version_id,
	// is_applied, tstamp) logs every up (and, in old versions, down).
	Goose Tool = "goose"
	// SQLMigrate is github.com/rubenv/sql-migrate: gorp_migrations (id,
	// applied_at), one row per applied migration, id its file name.
	SQLMigrate Tool = "sql-migrate"
	// Dbmate is github.com/amacneil/dbmate: schema_migrations (version
	// varchar(128)), one row per applied migration.
	Dbmate Tool = "dbmate"
	// Flyway is Redgate Flyway: flyway_schema_history, one row per run
	// script, with installed_rank, version, type and success.
	Flyway Tool = "flyway"
)

// Tools lists every Tool, in the order the CLI shows them.
var Tools = []Tool{GolangMigrate, Goose, SQLMigrate, Dbmate, Flyway}

// ParseTool returns the Tool named s, or an error listing the valid names.
func ParseTool(s string) (Tool, error) {
	for _, t := range Tools {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, len(Tools))
	for i, t := range Tools {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown migration tool %q: want one of %s", s, strings.Join(names, ", "))
}

// Table returns the history table the tool creates by default.
func (t Tool) Table() string {
	switch t {
	case GolangMigrate, Dbmate:
		return "schema_migrations"
	case Goose:
		return "goose_db_version"
	case SQLMigrate:
		return "gorp_migrations"
	case Flyway:
		return "flyway_schema_history"
	}
	return ""
}

// ErrNoHistory means the database has no history table of the tool, or not
// one shaped like the tool's.
var ErrNoHistory = errors.New("no history table of that tool")

// ErrUnfinished is matched by *UnfinishedError.
var ErrUnfinished = errors.New("the tool's history is unfinished")

// UnfinishedError says that the tool's history records a migration that
// failed or stopped halfway (golang-migrate's dirty flag, a Flyway row with
// success = false): what the database holds is not what any set of applied
// migrations describes, so there is nothing safe to adopt.
type UnfinishedError struct {
	Tool    Tool
	Version string // as the tool records it
	Script  string // the file, where the tool records it
	Detail  string // what the tool says and how to fix it with that tool
}

func (e *UnfinishedError) Error() string {
	return fmt.Sprintf("%s history: version %s: %s", e.Tool, e.Version, e.Detail)
}

// Is makes an *UnfinishedError match ErrUnfinished.
func (e *UnfinishedError) Is(target error) bool { return target == ErrUnfinished }

// Entry is one migration the tool records as applied.
type Entry struct {
	// Version is the migration's version; zero when the tool's record has
	// none Runway can read (a sql-migrate id without a leading number).
	Version migration.Version
	// Ref is how the tool names it: "version 3", "1_init.sql", "V1.1__x.sql".
	Ref string
	// Migration is the source's file for it, nil when the source has none.
	Migration *migration.Migration
}

// Applied returns what the tool's history says is applied, in version order,
// each matched with the migration of ms that has its version (Entry.Migration
// nil when there is none). It returns ErrNoHistory when the tool's table does
// not exist and an *UnfinishedError when the history records a migration that
// failed or stopped halfway.
func Applied(ctx context.Context, q database.Querier, d migration.Dialect, from Tool, ms []*migration.Migration) ([]Entry, error) {
	found, err := has(ctx, q, d, from)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s's table %s is not in this database (or not with %s's columns)", ErrNoHistory, from, from.Table(), from)
	}
	var es []Entry
	switch from {
	case GolangMigrate:
		es, err = golangMigrate(ctx, q, ms)
	case Goose:
		es, err = goose(ctx, q, ms)
	case SQLMigrate:
		es, err = sqlMigrate(ctx, q, ms)
	case Dbmate:
		es, err = dbmate(ctx, q, ms)
	case Flyway:
		es, err = flyway(ctx, q, ms)
	default:
		return nil, fmt.Errorf("adopt: unknown tool %q", from)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(es, func(a, b Entry) int { return a.Version.Compare(b.Version) })
	return es, nil
}

// Detect returns the tools whose history table is in the database (the
// current schema on PostgreSQL, the current database on MySQL, main on SQLite).
//
// Every first run on a database asks this (an empty history may be another
// tool's database), so all the tables are looked up in one query: one round
// trip and one catalog scan instead of one per tool.
func Detect(ctx context.Context, q database.Querier, d migration.Dialect) ([]Tool, error) {
	var tables []string
	for _, t := range Tools {
		if !slices.Contains(tables, t.Table()) {
			tables = append(tables, t.Table())
		}
	}
	cols, err := columns(ctx, q, d, tables...)
	if err != nil {
		return nil, err
	}
	var out []Tool
	for _, t := range Tools {
		if shaped(t, cols[t.Table()]) {
			out = append(out, t)
		}
	}
	return out, nil
}

// has reports whether t's table exists with t's columns.
func has(ctx context.Context, q database.Querier, d migration.Dialect, t Tool) (bool, error) {
	cols, err := columns(ctx, q, d, t.Table())
	if err != nil {
		return false, err
	}
	return shaped(t, cols[t.Table()]), nil
}

// shaped reports whether a table with cols (lowercased names and types; nil
// when there is no table) is t's. golang-migrate and dbmate share the name
// schema_migrations: golang-migrate's has a dirty column, dbmate's only a
// textual version.
func shaped(t Tool, cols map[string]string) bool {
	switch t {
	case GolangMigrate:
		_, v := cols["version"]
		_, dirty := cols["dirty"]
		return v && dirty
	case Dbmate:
		typ, v := cols["version"]
		_, dirty := cols["dirty"]
		return v && !dirty && textual(typ)
	case Goose:
		_, v := cols["version_id"]
		_, a := cols["is_applied"]
		return v && a
	case SQLMigrate:
		_, id := cols["id"]
		_, at := cols["applied_at"]
		return id && at
	case Flyway:
		_, r := cols["installed_rank"]
		_, s := cols["success"]
		return r && s
	}
	return false
}

func textual(typ string) bool {
	return strings.Contains(typ, "char") || strings.Contains(typ, "text")
}

// columns returns the lowercased column names and types of each of tables
// that exists, keyed by the table's name as asked.
func columns(ctx context.Context, q database.Querier, d migration.Dialect, tables ...string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(tables))
	add := func(table string, rows [][]*string) {
		for _, r := range rows {
			if len(r) != 2 || r[0] == nil {
				continue
			}
			if out[table] == nil {
				out[table] = map[string]string{}
			}
			out[table][strings.ToLower(*r[0])] = strings.ToLower(str(r[1]))
		}
	}
	if d == migration.SQLite {
		// A local file: a query per table costs no round trip.
		for _, table := range tables {
			rows, err := q.QueryStrings(ctx, `SELECT name, type FROM pragma_table_info(?)`, table)
			if err != nil {
				return nil, fmt.Errorf("look for table %s: %w", table, err)
			}
			add(table, rows)
		}
		return out, nil
	}
	var sql string
	args := make([]any, len(tables))
	marks := make([]string, len(tables))
	for i, table := range tables {
		args[i] = table
		marks[i] = "?"
		if d == migration.Postgres {
			marks[i] = "$" + strconv.Itoa(i+1)
		}
	}
	in := strings.Join(marks, ", ")
	if d == migration.Postgres {
		none, err := nonePostgres(ctx, q, marks, args)
		if err != nil {
			return nil, fmt.Errorf("look for table %s: %w", strings.Join(tables, ", "), err)
		}
		if none {
			return out, nil
		}
	}
	switch d {
	case migration.Postgres:
		// The catalog, not information_schema.columns: in the new session
		// of a first run the view takes ~4.5 ms, the catalog ~1.4 (from the
		// client). format_type names types much as data_type does, with
		// their modifiers ("character varying(128)"); only the column
		// names and whether a version is textual matter here. Unlike the
		// view, the catalog also lists tables this user may not read:
		// such a table is still another tool's history.
		sql = `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())
	AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
	AND c.relname IN (` + in + `)`
	case migration.MySQL:
		sql = `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name IN (` + in + `)`
	default:
		return nil, fmt.Errorf("adopt: unsupported dialect %q", d)
	}
	rows, err := q.QueryStrings(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("look for table %s: %w", strings.Join(tables, ", "), err)
	}
	byTable := map[string][][]*string{}
	for _, r := range rows {
		if len(r) == 3 && r[0] != nil {
			// MySQL may compare names without regard to case; the rows
			// belong to the table asked for under any spelling.
			byTable[strings.ToLower(*r[0])] = append(byTable[strings.ToLower(*r[0])], r[1:])
		}
	}
	for _, table := range tables {
		add(table, byTable[strings.ToLower(table)])
	}
	return out, nil
}

// nonePostgres reports whether no relation of any of the names asked for
// (marks, with their args) is in the current schema. Asked first, because
// the answer is nearly always "none" (every first run asks) and costs a new
// session ~1.7 ms of the server's time, where the catalog query below costs
// ~6.5 ms (the AMD machine of docs/benchmarks.md): the server looks each
// name up in its caches, and plans no query of the catalog. Any relation
// found, even one that is not a table, leaves the answer to that query.
func nonePostgres(ctx context.Context, q database.Querier, marks []string, args []any) (bool, error) {
	found := make([]string, len(marks))
	for i, m := range marks {
		found[i] = "pg_catalog.to_regclass(pg_catalog.quote_ident(pg_catalog.current_schema()) || '.' || pg_catalog.quote_ident(" + m + ")) IS NOT NULL"
	}
	rows, err := q.QueryStrings(ctx, "SELECT "+strings.Join(found, " OR "), args...)
	if err != nil {
		return false, err
	}
	return len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] != nil && *rows[0][0] == "f", nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// truth reads a boolean as PostgreSQL (t/f), MySQL and SQLite (1/0) print it.
func truth(p *string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(str(p))) {
	case "t", "true", "1", "y", "yes", "on":
		return true, nil
	case "f", "false", "0", "n", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", str(p))
}

func query(ctx context.Context, q database.Querier, t Tool, sql string) ([][]*string, error) {
	rows, err := q.QueryStrings(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read %s's table %s: %w", t, t.Table(), err)
	}
	return rows, nil
}

// index maps version strings to the source's migrations.
func index(ms []*migration.Migration) map[string]*migration.Migration {
	out := make(map[string]*migration.Migration, len(ms))
	for _, m := range ms {
		out[m.Version.String()] = m
	}
	return out
}

func entry(byVersion map[string]*migration.Migration, v migration.Version, ref string) Entry {
	return Entry{Version: v, Ref: ref, Migration: byVersion[v.String()]}
}

// golangMigrate: the table holds at most one row, (version, dirty), rewritten
// after every step (database/postgres SetVersion: TRUNCATE then INSERT); -1
// (database.NilVersion) or no row means nothing applied. golang-migrate
// applies in version order, so every migration up to the current version is
// applied. dirty = true means the current version's migration failed or was
// interrupted halfway and golang-migrate itself refuses to go on until
// `migrate force`.
func golangMigrate(ctx context.Context, q database.Querier, ms []*migration.Migration) ([]Entry, error) {
	rows, err := query(ctx, q, GolangMigrate, `SELECT version, dirty FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if len(rows) > 1 {
		return nil, fmt.Errorf("golang-migrate's schema_migrations has %d rows; golang-migrate keeps exactly one", len(rows))
	}
	vs := str(rows[0][0])
	n, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("golang-migrate's schema_migrations: version %q: %w", vs, err)
	}
	dirty, err := truth(rows[0][1])
	if err != nil {
		return nil, fmt.Errorf("golang-migrate's schema_migrations: dirty: %w", err)
	}
	if dirty {
		return nil, &UnfinishedError{Tool: GolangMigrate, Version: vs,
			Detail: "schema_migrations is dirty: that migration failed or stopped halfway. Put the database right by hand, mark it with `migrate force VERSION` (the version the database now matches), then adopt"}
	}
	if n < 0 {
		return nil, nil
	}
	current := migration.MustParseVersion(strconv.FormatInt(n, 10))
	byVersion := index(ms)
	var out []Entry
	for _, m := range ms {
		if m.Version.Compare(current) <= 0 {
			out = append(out, Entry{Version: m.Version, Ref: "version " + m.Version.String(), Migration: m})
		}
	}
	// golang-migrate needs the current version's file to go on; a source
	// without it is not the source that migrated this database.
	if byVersion[current.String()] == nil {
		out = append(out, Entry{Version: current, Ref: "version " + vs + " (current)"})
	}
	return out, nil
}

// goose: every up inserts (version_id, is_applied = true); down deletes the
// row (goose v3) or, in older versions, inserts is_applied = false. The
// latest row (highest id) of a version decides, as in goose's
// EnsureDBVersion. Version 0 is the row goose inserts when it creates the
// table, not a migration.
func goose(ctx context.Context, q database.Querier, ms []*migration.Migration) ([]Entry, error) {
	rows, err := query(ctx, q, Goose, `SELECT version_id, is_applied FROM goose_db_version ORDER BY id`)
	if err != nil {
		return nil, err
	}
	latest := map[int64]bool{}
	for _, r := range rows {
		n, err := strconv.ParseInt(str(r[0]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("goose's goose_db_version: version_id %q: %w", str(r[0]), err)
		}
		ok, err := truth(r[1])
		if err != nil {
			return nil, fmt.Errorf("goose's goose_db_version: is_applied: %w", err)
		}
		latest[n] = ok
	}
	byVersion := index(ms)
	var out []Entry
	for n, ok := range latest {
		if !ok || n <= 0 {
			continue
		}
		s := strconv.FormatInt(n, 10)
		out = append(out, entry(byVersion, migration.MustParseVersion(s), "version "+s))
	}
	return out, nil
}

// sqlMigrateNumber is sql-migrate's own rule for a migration's version: the
// digits its id (file name) starts with. Compiled on first use: every run
// starts this package, few adopt.
var sqlMigrateNumber = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+).*$`) })

// sqlMigrate: one row per applied migration (down deletes it); id is the
// file's name relative to the migrations directory. A row is matched with
// the source's file of the same name, or else of the same leading number.
func sqlMigrate(ctx context.Context, q database.Querier, ms []*migration.Migration) ([]Entry, error) {
	rows, err := query(ctx, q, SQLMigrate, `SELECT id FROM gorp_migrations`)
	if err != nil {
		return nil, err
	}
	byFile := map[string]*migration.Migration{}
	for _, m := range ms {
		if m.Up != nil {
			byFile[m.Up.File] = m
		}
	}
	byVersion := index(ms)
	var out []Entry
	for _, r := range rows {
		id := str(r[0])
		if m := byFile[id]; m != nil {
			out = append(out, Entry{Version: m.Version, Ref: id, Migration: m})
			continue
		}
		e := Entry{Ref: id}
		if sub := sqlMigrateNumber().FindStringSubmatch(id); sub != nil {
			if v, err := migration.ParseVersion(sub[1]); err == nil {
				e = entry(byVersion, v, id)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// dbmate: one row per applied migration (rollback deletes it); version is
// the digits the file name starts with, as text.
func dbmate(ctx context.Context, q database.Querier, ms []*migration.Migration) ([]Entry, error) {
	rows, err := query(ctx, q, Dbmate, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	byVersion := index(ms)
	var out []Entry
	for _, r := range rows {
		s := str(r[0])
		v, err := migration.ParseVersion(s)
		if err != nil {
			return nil, fmt.Errorf("dbmate's schema_migrations: %w", err)
		}
		out = append(out, entry(byVersion, v, "version "+s))
	}
	return out, nil
}

// flyway: one row per script run, in installed_rank order. Only versioned
// rows count (repeatable migrations have a NULL version and no place in a
// versioned history); SCHEMA is the marker row of schemas Flyway created;
// BASELINE stands for every version up to its own; DELETE (flyway repair
// of a missing migration) and UNDO_* (Teams undo) take a version back out.
// A row with success = false is a failed migration Flyway itself refuses to
// go past until `flyway repair`.
func flyway(ctx context.Context, q database.Querier, ms []*migration.Migration) ([]Entry, error) {
	rows, err := query(ctx, q, Flyway, `SELECT installed_rank, version, type, script, success FROM flyway_schema_history ORDER BY installed_rank`)
	if err != nil {
		return nil, err
	}
	applied := map[string]Entry{}
	byVersion := index(ms)
	for _, r := range rows {
		ok, err := truth(r[4])
		if err != nil {
			return nil, fmt.Errorf("flyway_schema_history: success: %w", err)
		}
		typ, script := strings.ToUpper(str(r[2])), str(r[3])
		if !ok {
			return nil, &UnfinishedError{Tool: Flyway, Version: str(r[1]), Script: script,
				Detail: fmt.Sprintf("%s failed (success = false in flyway_schema_history). Put the database right by hand, clear the row with `flyway repair`, then adopt", script)}
		}
		if r[1] == nil || typ == "SCHEMA" {
			continue
		}
		v, err := migration.ParseVersion(*r[1])
		if err != nil {
			return nil, fmt.Errorf("flyway_schema_history: %s: %w", script, err)
		}
		switch {
		case typ == "BASELINE":
			for _, m := range ms {
				if m.Version.Compare(v) <= 0 {
					applied[m.Version.String()] = Entry{Version: m.Version, Ref: "baseline " + *r[1], Migration: m}
				}
			}
		case typ == "DELETE" || strings.HasPrefix(typ, "UNDO_"):
			delete(applied, v.String())
		default:
			applied[v.String()] = entry(byVersion, v, script)
		}
	}
	out := make([]Entry, 0, len(applied))
	for _, e := range applied {
		out = append(out, e)
	}
	return out, nil
}
