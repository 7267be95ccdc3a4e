package migration

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

// render describes loaded migrations compactly for comparison.
func render(ms []*Migration) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %q %s %s", m.Version, m.Name, m.VersionText, m.Format)
		for _, s := range []*Script{m.Up, m.Down} {
			if s == nil {
				b.WriteString(" | -")
				continue
			}
			fmt.Fprintf(&b, " | %s", s.File)
			if s.NoTransaction {
				b.WriteString(" notx")
			}
			for _, seg := range s.Segments {
				v := ""
				if seg.Verbatim {
					v = "v"
				}
				fmt.Fprintf(&b, " %s%d:%q", v, seg.Line, strings.TrimSpace(seg.Text))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestLoadFormats(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"native", map[string]string{
			"0001_create_users.up.sql":   "-- runway:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
			"0001_create_users.down.sql": "DROP INDEX i;\n",
			"0002_more.up.sql":           "SELECT 1;",
			"README.md":                  "ignored",
			"notes.txt":                  "ignored",
			".#0001_create_users.up.sql": "ignored: editor lock file",
			"sub/0003_x.up.sql":          "ignored: sub-directory",
		}, `1 "create_users" 0001 runway | 0001_create_users.up.sql notx 1:"-- runway:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);" | 0001_create_users.down.sql 1:"DROP INDEX i;"
2 "more" 0002 runway | 0002_more.up.sql 1:"SELECT 1;" | -
`},
		{"goose", map[string]string{"20240101120000_add_fn.sql": `-- a header comment
-- +goose NO TRANSACTION

-- +goose Up
CREATE TABLE t (a int);
-- +goose StatementBegin
CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;
-- +goose StatementEnd
SELECT 1;

-- +goose Down
DROP FUNCTION f;
DROP TABLE t;
`}, `20240101120000 "add_fn" 20240101120000 goose | 20240101120000_add_fn.sql notx 5:"CREATE TABLE t (a int);" v7:"CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;" 9:"SELECT 1;" | 20240101120000_add_fn.sql notx 12:"DROP FUNCTION f;\nDROP TABLE t;"
`},
		{"goose lenient spelling", map[string]string{"1_x.sql": "--+goose up\nSELECT 1;\n  -- +goose   statementbegin\nSELECT 2;\n-- +goose StatementEnd\n"},
			`1 "x" 1 goose | 1_x.sql 2:"SELECT 1;" v4:"SELECT 2;" | -
`},
		// A comment that only resembles another tool's marker is a
		// comment, as the file's tool reads it; it does not decide the
		// file's format either.
		{"comments like another tool's markers", map[string]string{
			"1_x.sql": "-- migrate: moved from dbmate in 2023\n-- +goose Up\nSELECT 1;\n-- +migrate this too\n-- +goose Down\nSELECT 2;\n",
			"2_y.sql": "-- +goose-style comment\n-- migrate:up\nSELECT 3;\n"},
			`1 "x" 1 goose | 1_x.sql 3:"SELECT 1;\n-- +migrate this too" | 1_x.sql 6:"SELECT 2;"
2 "y" 2 dbmate | 2_y.sql 3:"SELECT 3;" | -
`},
		{"sql-migrate", map[string]string{"2_users.sql": `-- +migrate Up notransaction
CREATE INDEX CONCURRENTLY i ON t (a);
-- +migrate StatementBegin
CREATE FUNCTION f() RETURNS int AS 'select 1; select 2' LANGUAGE sql;
-- +migrate StatementEnd

-- +migrate Down
DROP INDEX i;
`}, `2 "users" 2 sql-migrate | 2_users.sql notx 2:"CREATE INDEX CONCURRENTLY i ON t (a);" v4:"CREATE FUNCTION f() RETURNS int AS 'select 1; select 2' LANGUAGE sql;" | 2_users.sql 8:"DROP INDEX i;"
`},
		{"native header comments", map[string]string{
			"1_a.up.sql": "/*\n * Licence: MIT\n */\n-- Runway:No-Transaction\nVACUUM;\n",
			"2_b.up.sql": "/* one line */\n\n-- runway:no-transaction\nSELECT 1;\n",
		}, `1 "a" 1 runway | 1_a.up.sql notx 1:"/*\n * Licence: MIT\n */\n-- Runway:No-Transaction\nVACUUM;" | -
2 "b" 2 runway | 2_b.up.sql notx 1:"/* one line */\n\n-- runway:no-transaction\nSELECT 1;" | -
`},
		{"sql-migrate's own names", map[string]string{
			"20240101120000-create_users.sql": "-- +migrate Up\nCREATE TABLE users (id int);\n-- +migrate Down\nDROP TABLE users;\n",
			"3-more-things.sql":               "-- +migrate Up\nSELECT 1;\n",
		}, `3 "more-things" 3 sql-migrate | 3-more-things.sql 2:"SELECT 1;" | -
20240101120000 "create_users" 20240101120000 sql-migrate | 20240101120000-create_users.sql 2:"CREATE TABLE users (id int);" | 20240101120000-create_users.sql 4:"DROP TABLE users;"
`},
		{"dbmate", map[string]string{"20151129054053_test_migration.sql": `-- migrate:up transaction:false
ALTER TYPE colors ADD VALUE 'orange' AFTER 'red';

-- migrate:down
SELECT 1;
`}, `20151129054053 "test_migration" 20151129054053 dbmate | 20151129054053_test_migration.sql notx 2:"ALTER TYPE colors ADD VALUE 'orange' AFTER 'red';" | 20151129054053_test_migration.sql 5:"SELECT 1;"
`},
		{"dbmate without space, no down", map[string]string{"3_a.sql": "--migrate:up\nSELECT 1;\n"},
			`3 "a" 3 dbmate | 3_a.sql 2:"SELECT 1;" | -
`},
		{"flyway", map[string]string{
			"V1__init.sql":          "CREATE TABLE a (id int);",
			"V1.1__add_b.sql":       "-- runway:no-transaction\nCREATE TABLE b (id int);",
			"U1.1__add_b.sql":       "DROP TABLE b;",
			"V2_0_3__more_data.sql": "SELECT 1;",
		}, `1 "init" 1 flyway | V1__init.sql 1:"CREATE TABLE a (id int);" | -
1.1 "add_b" 1.1 flyway | V1.1__add_b.sql notx 1:"-- runway:no-transaction\nCREATE TABLE b (id int);" | U1.1__add_b.sql 1:"DROP TABLE b;"
2.0.3 "more_data" 2_0_3 flyway | V2_0_3__more_data.sql 1:"SELECT 1;" | -
`},
		{"mixed formats sorted numerically", map[string]string{
			"10_ten.up.sql":     "SELECT 10;",
			"9_nine.sql":        "-- +goose Up\nSELECT 9;",
			"V9.5__half.sql":    "SELECT 9.5;",
			"0002_two.up.sql":   "SELECT 2;",
			"0002_two.down.sql": "SELECT -2;",
		}, `2 "two" 0002 runway | 0002_two.up.sql 1:"SELECT 2;" | 0002_two.down.sql 1:"SELECT -2;"
9 "nine" 9 goose | 9_nine.sql 2:"SELECT 9;" | -
9.5 "half" 9.5 flyway | V9.5__half.sql 1:"SELECT 9.5;" | -
10 "ten" 10 runway | 10_ten.up.sql 1:"SELECT 10;" | -
`},
		{"BOM and CRLF", map[string]string{"1_a.sql": "\ufeff-- +goose Up\r\nSELECT 1;\r\n-- +goose Down\r\nSELECT 2;\r\n"},
			`1 "a" 1 goose | 1_a.sql 2:"SELECT 1;" | 1_a.sql 4:"SELECT 2;"
`},
		{"empty folder", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(mapFS(tt.files))
			if err != nil {
				t.Fatal(err)
			}
			if got := render(ms); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []error  // the sentinel of each problem, in order
		msgs  []string // each problem's message contains this
	}{
		{"no version", map[string]string{"schema.sql": "", "abc_create.up.sql": "", "1a_x.sql": "", "0001-a.up.sql": ""},
			[]error{ErrNoVersion, ErrNoVersion, ErrNoVersion, ErrNoVersion}, []string{"0001-a.up.sql: file name has no version: want VERSION_name.up.sql", "1a_x.sql: file name has no version", "abc_create.up.sql:", "schema.sql:"}},
		{"no name", map[string]string{"0001.up.sql": "", "0001.down.sql": "", "2.sql": ""},
			[]error{ErrNoName, ErrNoName, ErrNoName}, []string{"0001.down.sql: file name has no name after its version: want 0001_NAME.down.sql", "0001.up.sql: file name has no name after its version: want 0001_NAME.up.sql", "2.sql:"}},
		{"version too large", map[string]string{"99999999999999999999999_x.up.sql": ""},
			[]error{ErrNoVersion}, []string{"99999999999999999999999 is larger than 18446744073709551615, the largest number a version"}},
		{"duplicate across formats", map[string]string{"0002_a.up.sql": "SELECT 1;", "2_b.sql": "-- +goose Up\nSELECT 1;", "V2__c.sql": "SELECT 2;"},
			[]error{ErrDuplicateVersion, ErrDuplicateVersion}, []string{"2_b.sql: duplicate version 2: 0002_a.up.sql and 2_b.sql", "V2__c.sql: duplicate version 2: 0002_a.up.sql and V2__c.sql"}},
		{"duplicate down", map[string]string{"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "", "01_a.down.sql": ""},
			[]error{ErrDuplicateVersion}, []string{"01_a.down.sql and 1_a.down.sql"}},
		{"down of another format", map[string]string{"1_a.sql": "-- +goose Up\n", "1_a.down.sql": ""},
			[]error{ErrDuplicateVersion}, []string{"1_a.down.sql: duplicate version 1"}},
		{"empty up file", map[string]string{"0001_a.up.sql": "", "0001_a.down.sql": "", "V2__b.sql": ""},
			[]error{ErrEmptyFile, ErrEmptyFile}, []string{"0001_a.up.sql: the up file is empty (0 bytes)", "V2__b.sql: the up file is empty"}},
		{"directory named like a migration", map[string]string{"0001_a.up.sql/x": "SELECT 1;"},
			[]error{ErrNotAFile}, []string{"0001_a.up.sql: is a directory, not a migration file"}},
		{"down without up", map[string]string{"0003_x.down.sql": "", "U4__y.sql": ""},
			[]error{ErrDownWithoutUp, ErrDownWithoutUp}, []string{"0003_x.down.sql: down migration without an up migration: no up file with version 3 (want 0003_x.up.sql)", "(want V4__y.sql)"}},
		{"unknown native directive", map[string]string{"1_a.up.sql": "-- a comment\n-- runway:no-transactions\n--runway:foo\nSELECT 1;\n-- runway:no-transaction\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective, ErrUnknownDirective},
			[]string{"1_a.up.sql:2: unknown directive \"-- runway:no-transactions\"", "1_a.up.sql:3:", "1_a.up.sql:5: unknown directive: \"-- runway:no-transaction\": directives must come before the first statement"}},
		{"directive after a statement in a comment's line", map[string]string{"1_a.up.sql": "/* c */ SELECT 1;\n-- runway:no-transaction\n", "2_b.up.sql": "/* open\n*/ SELECT 2;\n-- runway:no-transaction\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective},
			[]string{"1_a.up.sql:2: unknown directive: \"-- runway:no-transaction\": directives must come before the first statement", "2_b.up.sql:3:"}},
		{"unknown goose directive", map[string]string{"1_a.sql": "-- +goose Up\n-- +goose Upp\n-- +goose\n-- +gooseDown\n-- +goose ENVSUBST ON\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective, ErrUnknownDirective, ErrUnsupported},
			[]string{"1_a.sql:2: unknown directive \"-- +goose Upp\"", "1_a.sql:3:", "1_a.sql:4:", "1_a.sql:5: unsupported migration file: \"-- +goose ENVSUBST ON\": environment substitution is not supported"}},
		{"Flyway placeholder", map[string]string{"V1__audit.sql": "CREATE TABLE audit (who text, tbl text);\nINSERT INTO audit VALUES ('${flyway:user}', '${flyway:table}');\n", "V2__ok.sql": "SELECT '${not_flyway}';\n"},
			[]error{ErrUnsupported}, []string{"V1__audit.sql:2: unsupported migration file: ${flyway:user} is a Flyway placeholder, which Runway does not replace"}},
		{"goose ENVSUB", map[string]string{"1_a.sql": "-- +goose ENVSUB OFF\n-- +goose Up\nSELECT 1;\n", "2_b.sql": "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${X}';\n"},
			[]error{ErrUnsupported}, []string{"2_b.sql:2: unsupported migration file: \"-- +goose ENVSUB ON\": environment substitution is not supported"}},
		{"goose Go migration", map[string]string{"00001_a.sql": "-- +goose Up\nSELECT 1;\n", "00002_backfill.go": "package migrations\n", "embed.go": "package migrations\n", "00003_x_test.go": "package migrations\n"},
			[]error{ErrUnsupported}, []string{"00002_backfill.go: unsupported migration file: 00002_backfill.go is a goose Go migration: Runway runs SQL migrations only; rewrite it as 00002_backfill.sql"}},
		{"unknown sql-migrate directive", map[string]string{"1_a.sql": "-- +migrate Up\n-- +migrate Down notx\n-- +migrate Sideways\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective}, []string{"1_a.sql:2:", "1_a.sql:3: unknown directive \"-- +migrate Sideways\""}},
		{"unknown dbmate directive", map[string]string{"1_a.sql": "-- migrate:up transaction:no\n-- migrate:sideways\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective}, []string{"1_a.sql:1:", "1_a.sql:2:"}},
		{"utf-16", map[string]string{"1_a.up.sql": "\xff\xfeS\x00E\x00L\x00\n\x00", "2_b.up.sql": "SELECT 'caf\xe9';\n"},
			[]error{ErrInvalidUTF8, ErrInvalidUTF8},
			[]string{"1_a.up.sql:1: file is UTF-16, not UTF-8 (it starts with a UTF-16 byte-order mark): save it as UTF-8", "2_b.up.sql:1: file is not valid UTF-8"}},
		{"mixed markers", map[string]string{"1_a.sql": "-- +goose Up\n-- migrate:down\n"},
			[]error{ErrUnknownDirective}, []string{"1_a.sql:2: unknown directive \"-- migrate:down\": a dbmate marker in a goose file"}},
		{"runway directive in a combined file", map[string]string{
			"1_a.sql": "-- runway:no-transaction\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
			"2_b.sql": "-- +migrate Up\n-- runway:no-transaction\nSELECT 1;\n",
			"3_c.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\n-- Runway:No-Transaction\nSELECT 2;\n",
			// Past a section's first statement, in a StatementBegin block, or
			// another word after runway: it is a comment, as goose reads it.
			"4_d.sql": "-- +goose Up\n-- runway: keep in sync with the app\nSELECT '\n-- runway:no-transaction\n';\n-- +goose StatementBegin\n-- runway:no-transaction\nSELECT 1;\n-- +goose StatementEnd\n",
			// After a description in a block comment, one line or several.
			"5_e.sql": "-- +goose Up\n/* Adds the index. */\n-- runway:no-transaction\nUPDATE big SET x = 1;\n",
			"6_f.sql": "-- +goose Up\n/*\n  Adds the index.\n*/\n-- runway:no-transaction\nUPDATE big SET x = 1;\n",
			// The tool's own marker says it already: nothing is lost.
			"7_g.sql": "-- +goose NO TRANSACTION\n-- runway:no-transaction\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
			"8_h.sql": "-- +migrate Up notransaction\n-- runway:no-transaction\nSELECT 1;\n"},
			[]error{ErrUnknownDirective, ErrUnknownDirective, ErrUnknownDirective, ErrUnknownDirective, ErrUnknownDirective},
			[]string{"1_a.sql:1: unknown directive \"-- runway:no-transaction\": a Runway directive in a goose file, where it does nothing: write -- +goose NO TRANSACTION",
				"2_b.sql:2: unknown directive \"-- runway:no-transaction\": a Runway directive in a sql-migrate file, where it does nothing: write -- +migrate Up notransaction",
				"3_c.sql:4: unknown directive \"-- Runway:No-Transaction\": a Runway directive in a dbmate file, where it does nothing: write -- migrate:up transaction:false",
				"5_e.sql:3: unknown directive", "6_f.sql:5: unknown directive"}},
		{"no up section", map[string]string{"1_a.sql": "CREATE TABLE t (a int);\n", "2_b.sql": "-- +goose NO TRANSACTION\n"},
			[]error{ErrNoUpSection, ErrOutsideSection, ErrNoUpSection},
			[]string{"1_a.sql: no up section: a VERSION_name.sql file needs an up marker: -- +goose Up (goose), -- +migrate Up (sql-migrate) or -- migrate:up (dbmate)", "1_a.sql:1: SQL outside", "2_b.sql: no up section: the file has goose markers but no up marker"}},
		{"SQL before up", map[string]string{"1_a.sql": "-- ok\n\nSELECT 1;\n-- +goose Up\nSELECT 2;\n"},
			[]error{ErrOutsideSection}, []string{"1_a.sql:3: SQL outside an up or down section: statements must follow the up marker"}},
		{"misplaced markers", map[string]string{
			"1_a.sql": "-- +goose Down\n-- +goose Up\n-- +goose Up\n-- +goose StatementEnd\n-- +goose StatementBegin\n-- +goose StatementBegin\n-- +goose Down\n",
			"2_b.sql": "-- +migrate StatementBegin\n-- +migrate Up\n-- +migrate Down\n-- +migrate Down\n",
		}, []error{ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker},
			[]string{"1_a.sql:1:", "1_a.sql:3: misplaced marker \"-- +goose Up\": a second up marker (the first is on line 2)", "1_a.sql:4:", "1_a.sql:5: misplaced marker: StatementBegin without StatementEnd", "1_a.sql:6:", "1_a.sql:7:", "2_b.sql:1:", "2_b.sql:4:"}},
		{"combined-layout markers in plain files", map[string]string{
			"1_a.up.sql":   "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
			"2_b.up.sql":   "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
			"3_c.down.sql": "  -- +migrate Down\nSELECT 3;\n",
			"3_c.up.sql":   "-- migrate: not a marker, a comment\n-- +migrate: neither\nSELECT 3;\n",
			"V4__d.sql":    "SELECT 4;\n-- +goose StatementBegin\nSELECT 5;\n-- +goose StatementEnd\n",
		}, []error{ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker, ErrMisplacedMarker},
			[]string{"1_a.up.sql:1: misplaced marker \"-- +goose Up\": a goose marker in a file read whole", "1_a.up.sql:3: misplaced marker \"-- +goose Down\"", "2_b.up.sql:1:", "2_b.up.sql:3: misplaced marker \"-- migrate:down\": a dbmate marker", "3_c.down.sql:1: misplaced marker \"-- +migrate Down\": a sql-migrate marker", "V4__d.sql:2:", "V4__d.sql:4: misplaced marker \"-- +goose StatementEnd\": a goose marker in a file read whole as one direction's SQL, where it does nothing and a down section would run on up; remove the markers, or name the file VERSION_name.sql to read it as a goose file"}},
		{"upper-case extension", map[string]string{"0001_a.up.sql": "SELECT 1;", "0002_b.UP.SQL": "SELECT 2;", "V3__c.Sql": "SELECT 3;", "notes.txt": "", ".0004_d.SQL": ""},
			[]error{ErrUnsupported, ErrUnsupported}, []string{"0002_b.UP.SQL: unsupported migration file: 0002_b.UP.SQL ends in .SQL: migration files end in lower-case .sql", "V3__c.Sql: unsupported migration file: V3__c.Sql ends in .Sql"}},
		{"invalid UTF-8", map[string]string{"1_a.up.sql": "SELECT 1;\r\nSELECT '\xff';", "V2__b.sql": "\xef\xbb\xbf\xc3"},
			[]error{ErrInvalidUTF8, ErrInvalidUTF8}, []string{"1_a.up.sql:2: file is not valid UTF-8", "V2__b.sql:1:"}},
		{"flyway unsupported", map[string]string{"R__views.sql": "", "B5__base.sql": "", "beforeMigrate.sql": "", "afterEachMigrate__x.sql": ""},
			[]error{ErrUnsupported, ErrUnsupported, ErrUnsupported, ErrUnsupported},
			[]string{"B5__base.sql: unsupported migration file: B5__base.sql is a Flyway baseline migration", "R__views.sql: unsupported migration file: R__views.sql is a Flyway repeatable migration; repeatable migrations are not supported", "afterEachMigrate__x.sql: unsupported migration file: afterEachMigrate__x.sql looks like a Flyway callback", "beforeMigrate.sql:"}},
		{"flyway bad version", map[string]string{"V1..2__x.sql": "", "V1_init.sql": ""},
			[]error{ErrNoVersion, ErrNoVersion}, []string{"V1..2__x.sql: file name has no version: \"1..2\": not a version", "V1_init.sql:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(mapFS(tt.files))
			if err == nil {
				t.Fatalf("no error; loaded:\n%s", render(ms))
			}
			if ms != nil {
				t.Errorf("migrations returned with an error")
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %v is not a joined error", err)
			}
			errs := joined.Unwrap()
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, e := range errs {
				var fe *FileError
				if !errors.As(e, &fe) {
					t.Errorf("problem %d %v is not a *FileError", i, e)
				}
				if !errors.Is(e, tt.want[i]) {
					t.Errorf("problem %d %q does not wrap %q", i, e, tt.want[i])
				}
				if !strings.Contains(e.Error(), tt.msgs[i]) {
					t.Errorf("problem %d %q does not contain %q", i, e, tt.msgs[i])
				}
			}
		})
	}
}

func TestLoadReportsEveryFile(t *testing.T) {
	_, err := Load(mapFS(map[string]string{
		"b.sql":           "",
		"1_a.sql":         "nothing",
		"0001_z.down.sql": "",
		"2_ok.up.sql":     "SELECT 1;",
	}))
	got := fmt.Sprint(err)
	want := "0001_z.down.sql: down migration without an up migration: no up file with version 1 (want 0001_z.up.sql)\n" +
		"1_a.sql: no up section: a VERSION_name.sql file needs an up marker: -- +goose Up (goose), -- +migrate Up (sql-migrate) or -- migrate:up (dbmate); or name it VERSION_name.up.sql\n" +
		"1_a.sql:1: SQL outside an up or down section: statements must follow the up marker\n" +
		"b.sql: file name has no version: want VERSION_name.up.sql, VERSION_name.sql or Flyway's V<version>__name.sql, where VERSION is digits"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestChecksum(t *testing.T) {
	goose := "-- +goose Up\nCREATE TABLE t (a int);\n\n-- +goose Down\nDROP TABLE t;\n"
	sum := func(name, content string) (up, down string) {
		t.Helper()
		m, err := ParseFile(name, []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		s := m.Up
		if s == nil {
			s = m.Down
		}
		if m.Up != nil && m.Down != nil {
			return m.Up.Checksum, m.Down.Checksum
		}
		return s.Checksum, ""
	}
	up, down := sum("1_a.sql", goose)
	if want := checksum("-- +goose Up\nCREATE TABLE t (a int);\n\n"); up != want {
		t.Errorf("goose up checksum %s is not that of the up section", up)
	}
	if want := checksum("-- +goose Down\nDROP TABLE t;\n"); down != want {
		t.Errorf("goose down checksum %s is not that of the down section", down)
	}
	crlf := strings.ReplaceAll(goose, "\n", "\r\n")
	for _, variant := range []string{crlf, "\ufeff" + goose, "\ufeff" + crlf, strings.ReplaceAll(goose, "\n", "\r")} {
		if u, d := sum("1_a.sql", variant); u != up || d != down {
			t.Errorf("checksum of %q differs from the LF version", variant)
		}
	}
	if u, _ := sum("1_a.sql", strings.Replace(goose, "DROP TABLE t", "DROP TABLE IF EXISTS t", 1)); u != up {
		t.Error("editing the down section changed the up checksum")
	}
	if u, _ := sum("1_a.sql", strings.Replace(goose, "a int", "b int", 1)); u == up {
		t.Error("editing the up section did not change the up checksum")
	}

	native := "-- runway:no-transaction\nSELECT 1;\n"
	n, _ := sum("1_a.up.sql", native)
	if n != checksum(native) {
		t.Error("native checksum is not that of the whole file")
	}
	if c, _ := sum("1_a.up.sql", "\ufeff"+strings.ReplaceAll(native, "\n", "\r\n")); c != n {
		t.Error("native checksum changed with CRLF and a BOM")
	}
	if c, _ := sum("V1__a.sql", native); c != n {
		t.Error("Flyway checksum is not that of the whole file")
	}
	// The history tables of every database Runway migrated hold this form:
	// the lowercase hex SHA-256 of the file's bytes (sha256sum's).
	if want := "510fca3d4ea87c36505df31a90f20bec7038eae4f4e44196cc8c7c7032fc5755"; n != want {
		t.Errorf("checksum %q, want %q (sha256sum of the file)", n, want)
	}
}

func TestStatementsLines(t *testing.T) {
	content := "\ufeff-- +goose Up\r\n-- +goose StatementBegin\r\nCREATE FUNCTION f() RETURNS int AS $$\r\nBEGIN RETURN 1; END $$ LANGUAGE plpgsql;\r\n-- +goose StatementEnd\r\n\r\nCREATE TABLE t (a int);\r\n  INSERT INTO t VALUES (1);\r\n-- +goose Down\r\nDROP TABLE t;"
	m, err := ParseFile("dir/1_a.sql", []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	if m.Up.File != "dir/1_a.sql" {
		t.Errorf("File = %q", m.Up.File)
	}
	stmts, err := m.Up.Statements(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	want := []Statement{
		{"CREATE FUNCTION f() RETURNS int AS $$\nBEGIN RETURN 1; END $$ LANGUAGE plpgsql", 3},
		{"CREATE TABLE t (a int)", 7},
		{"INSERT INTO t VALUES (1)", 8},
	}
	if fmt.Sprint(stmts) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", stmts, want)
	}
	down, err := m.Down.Statements(Postgres)
	if err != nil || len(down) != 1 || down[0].Line != 10 {
		t.Errorf("down statements %+v, %v", down, err)
	}
}

func TestNextVersion(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))
	load := func(names ...string) []*Migration {
		files := map[string]string{}
		for _, n := range names {
			files[n] = "SELECT 1;\n"
			if strings.HasSuffix(n, ".sql") && !strings.HasSuffix(n, ".up.sql") && !strings.HasPrefix(n, "V") {
				files[n] = "-- +goose Up\n" // a combined file needs its up marker
			}
		}
		ms, err := Load(mapFS(files))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	tests := []struct {
		ms   []*Migration
		want string
	}{
		{nil, "20250304040607"},
		{load("0001_a.sql", "0003_b.sql"), "0004"},
		{load("1_a.sql", "9_b.sql"), "10"},
		{load("0999_a.sql"), "1000"},
		{load("20240101120000_a.sql"), "20250304040607"},
		{load("20990101120000_a.sql"), "20990101120001"},
		{load("0001_a.sql", "20240101120000_b.sql"), "20250304040607"},
		{load("000000000005_a.sql"), "000000000006"},
		{load("V1__a.sql", "V2.0.3__b.sql"), "3"},
	}
	for _, tt := range tests {
		if got := NextVersion(tt.ms, now); got != tt.want {
			t.Errorf("NextVersion(%s) = %s, want %s", render(tt.ms), got, tt.want)
		}
	}
}

// brokenFS fails every operation.
type brokenFS struct{}

var errBroken = errors.New("disk on fire")

func (brokenFS) Open(string) (fs.File, error) { return nil, errBroken }

func TestLoadReadError(t *testing.T) {
	if _, err := Load(brokenFS{}); !errors.Is(err, errBroken) {
		t.Errorf("Load(broken) = %v, want the fs error", err)
	}
}

// Flyway scans its locations recursively, down folders whose names do not
// start with ".": a tree of one folder per release loses no migration. The
// other layouts' tools read the top level alone, and so does Load for them.
func TestLoadFlywaySubfolders(t *testing.T) {
	ms, err := Load(mapFS(map[string]string{
		"V1__a.sql":               "CREATE TABLE a (id int);",
		"release2/V2__b.sql":      "CREATE TABLE b (id int);",
		"release2/U2__b.sql":      "DROP TABLE b;",
		"release2/more/V3__c.sql": "CREATE TABLE c (id int);",
		".git/V9__hidden.sql":     "CREATE TABLE hidden (id int);",
		"release2/.old/V8__x.sql": "CREATE TABLE x (id int);",
		"seeds/0005_seed.up.sql":  "INSERT INTO a VALUES (1);",
		"seeds/notes.sql":         "SELECT 1;",
		"release2/README.md":      "notes",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := `1 "a" 1 flyway | V1__a.sql 1:"CREATE TABLE a (id int);" | -
2 "b" 2 flyway | release2/V2__b.sql 1:"CREATE TABLE b (id int);" | release2/U2__b.sql 1:"DROP TABLE b;"
3 "c" 3 flyway | release2/more/V3__c.sql 1:"CREATE TABLE c (id int);" | -
`
	if got := render(ms); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
	// What Flyway would refuse or count twice, in a sub-folder as at the top.
	_, err = Load(mapFS(map[string]string{
		"V1__a.sql":        "CREATE TABLE a (id int);",
		"r2/V1__again.sql": "CREATE TABLE again (id int);",
		"r2/R__view.sql":   "CREATE VIEW v AS SELECT 1;",
		"r2/V3__c.SQL":     "CREATE TABLE c (id int);",
	}))
	for _, want := range []error{ErrDuplicateVersion, ErrUnsupported} {
		if !errors.Is(err, want) {
			t.Errorf("Load: %v; want %v", err, want)
		}
	}
	for _, file := range []string{"r2/V1__again.sql", "r2/R__view.sql", "r2/V3__c.SQL"} {
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("Load: %v; want it to name %s", err, file)
		}
	}
}
