package adopt

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/runwaydb/runway/migration"
)

// fakeQuerier answers the column look-up with cols, as the columns of the
// first table asked for, and the history query with rows.
type fakeQuerier struct {
	cols [][]*string
	rows [][]*string
}

func (f fakeQuerier) QueryStrings(_ context.Context, sql string, args ...any) ([][]*string, error) {
	if strings.Contains(sql, "information_schema") || strings.Contains(sql, "pg_attribute") {
		var out [][]*string
		for _, c := range f.cols {
			out = append(out, append([]*string{s(args[0].(string))}, c...))
		}
		return out, nil
	}
	if strings.Contains(sql, "pragma_table_info") {
		return f.cols, nil
	}
	return f.rows, nil
}

func s(v string) *string { return &v }

func row(vs ...string) []*string {
	out := make([]*string, len(vs))
	for i, v := range vs {
		if v != "NULL" {
			out[i] = s(v)
		}
	}
	return out
}

func source(t *testing.T, names ...string) []*migration.Migration {
	fsys := fstest.MapFS{}
	for _, n := range names {
		fsys[n] = &fstest.MapFile{Data: []byte("CREATE TABLE x (id int);\n")}
	}
	ms, err := migration.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func versions(es []Entry) string {
	var out []string
	for _, e := range es {
		v := e.Version.String()
		if e.Migration == nil {
			v += "!"
		}
		out = append(out, v)
	}
	return strings.Join(out, " ")
}

func TestApplied(t *testing.T) {
	flywayCols := [][]*string{row("installed_rank", "integer"), row("success", "boolean")}
	flywayMs := source(t, "V1__a.sql", "V2__b.sql", "V3__c.sql", "V4__d.sql")
	tests := []struct {
		name string
		tool Tool
		q    fakeQuerier
		ms   []*migration.Migration
		want string
		err  error
	}{
		{"golang-migrate nil version", GolangMigrate,
			fakeQuerier{[][]*string{row("version", "bigint"), row("dirty", "boolean")}, [][]*string{row("-1", "f")}},
			source(t, "1_a.up.sql"), "", nil},
		{"golang-migrate current without file", GolangMigrate,
			fakeQuerier{[][]*string{row("version", "bigint"), row("dirty", "boolean")}, [][]*string{row("3", "0")}},
			source(t, "1_a.up.sql", "2_b.up.sql"), "1 2 3!", nil},
		{"golang-migrate dirty", GolangMigrate,
			fakeQuerier{[][]*string{row("version", "bigint"), row("dirty", "boolean")}, [][]*string{row("2", "t")}},
			source(t, "1_a.up.sql", "2_b.up.sql"), "", ErrUnfinished},
		{"goose latest row decides, 0 is the sentinel", Goose,
			fakeQuerier{[][]*string{row("version_id", "bigint"), row("is_applied", "boolean")},
				[][]*string{row("0", "t"), row("1", "t"), row("2", "t"), row("2", "f"), row("3", "f"), row("3", "t")}},
			source(t, "1_a.up.sql", "2_b.up.sql", "3_c.up.sql"), "1 3", nil},
		{"sql-migrate by file name, else number", SQLMigrate,
			fakeQuerier{[][]*string{row("id", "varchar"), row("applied_at", "datetime")},
				[][]*string{row("1_a.up.sql"), row("2_renamed.sql"), row("9_gone.sql")}},
			source(t, "1_a.up.sql", "2_b.up.sql"), "1 2 9!", nil},
		{"dbmate is not golang-migrate", Dbmate,
			fakeQuerier{[][]*string{row("version", "bigint"), row("dirty", "boolean")}, nil},
			source(t, "1_a.up.sql"), "", ErrNoHistory},
		{"flyway baseline, repeatable, delete, schema", Flyway,
			fakeQuerier{flywayCols, [][]*string{
				row("0", "NULL", "SCHEMA", "<< Flyway Schema Creation >>", "t"),
				row("1", "2", "BASELINE", "<< Flyway Baseline >>", "t"),
				row("2", "3", "SQL", "V3__c.sql", "1"),
				row("3", "NULL", "SQL", "R__views.sql", "1"),
				row("4", "4", "SQL", "V4__d.sql", "1"),
				row("5", "4", "DELETE", "V4__d.sql", "1"),
			}},
			flywayMs, "1 2 3", nil},
		{"flyway failed", Flyway,
			fakeQuerier{flywayCols, [][]*string{row("1", "1", "SQL", "V1__a.sql", "0")}},
			flywayMs, "", ErrUnfinished},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Applied(context.Background(), tt.q, migration.Postgres, tt.tool, tt.ms)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && versions(got) != tt.want {
				t.Fatalf("applied = %q, want %q", versions(got), tt.want)
			}
		})
	}
}

func TestParseTool(t *testing.T) {
	if tool, err := ParseTool("goose"); err != nil || tool != Goose {
		t.Fatalf("ParseTool(goose) = %v, %v", tool, err)
	}
	_, err := ParseTool("liquibase")
	if err == nil || !strings.Contains(err.Error(), "golang-migrate, goose, sql-migrate, dbmate, flyway") {
		t.Fatalf("ParseTool(liquibase) = %v", err)
	}
}

// tablesQuerier answers the column look-up as a server would, from tables
// (name -> rows of column name and type), and counts the look-ups.
type tablesQuerier struct {
	tables  map[string][][]*string
	lookups *int
}

func (q tablesQuerier) QueryStrings(_ context.Context, sql string, args ...any) ([][]*string, error) {
	*q.lookups++
	if strings.Contains(sql, "to_regclass") {
		// PostgreSQL's first question: is any of the names there at all?
		for _, a := range args {
			for name := range q.tables {
				if strings.EqualFold(name, a.(string)) {
					return [][]*string{{s("t")}}, nil
				}
			}
		}
		return [][]*string{{s("f")}}, nil
	}
	var out [][]*string
	for _, a := range args {
		for name, cols := range q.tables {
			// information_schema compares names without regard to case on MySQL.
			if strings.EqualFold(name, a.(string)) {
				for _, c := range cols {
					if strings.Contains(sql, "pragma_table_info") {
						out = append(out, c)
					} else {
						out = append(out, append([]*string{s(name)}, c...))
					}
				}
			}
		}
	}
	return out, nil
}

func TestDetect(t *testing.T) {
	tables := map[string][][]*string{
		"schema_migrations": {row("version", "bigint"), row("dirty", "boolean")},
		"GOOSE_DB_VERSION":  {row("id", "integer"), row("version_id", "bigint"), row("is_applied", "boolean"), row("tstamp", "timestamp")},
		// Not Flyway's shape (no success column). Its applied_at, with
		// goose's id, would look like sql-migrate's table if the look-up
		// mixed up the tables' columns.
		"flyway_schema_history": {row("installed_rank", "integer"), row("applied_at", "timestamp")},
	}
	for _, d := range []migration.Dialect{migration.Postgres, migration.MySQL, migration.SQLite} {
		lookups := 0
		got, err := Detect(context.Background(), tablesQuerier{tables, &lookups}, d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if want := []Tool{GolangMigrate, Goose}; !slices.Equal(got, want) {
			t.Errorf("%s: Detect = %v, want %v", d, got, want)
		}
		// One query over the network (PostgreSQL: whether any of the names
		// is there, then their columns); SQLite asks its file once per table.
		if want := map[migration.Dialect]int{migration.Postgres: 2, migration.MySQL: 1, migration.SQLite: 4}[d]; lookups != want {
			t.Errorf("%s: %d column look-ups, want %d", d, lookups, want)
		}
	}
	// No other tool's table, the common case on PostgreSQL: one question.
	lookups := 0
	if got, err := Detect(context.Background(), tablesQuerier{map[string][][]*string{"unrelated": {row("id", "integer")}}, &lookups}, migration.Postgres); err != nil || len(got) != 0 || lookups != 1 {
		t.Errorf("Detect with no other tool's table = %v, %v after %d look-ups, want none after 1", got, err, lookups)
	}
	lookups = 0
	got, err := Detect(context.Background(), tablesQuerier{map[string][][]*string{"schema_migrations": {row("version", "character varying")}}, &lookups}, migration.Postgres)
	if err != nil || !slices.Equal(got, []Tool{Dbmate}) {
		t.Errorf("Detect = %v, %v, want [dbmate]", got, err)
	}
}
