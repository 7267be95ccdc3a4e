package migration

import "testing"

func TestStripComments(t *testing.T) {
	for _, c := range []struct {
		d       Dialect
		in, out string
	}{
		{Postgres, "SET search_path TO app", "SET search_path TO app"},
		{Postgres, "SET search_path TO\n  app, -- tenant tables (see ADR-12)\n  public", "SET search_path TO\n  app,  \n  public"},
		{Postgres, "SET /* a */ search_path TO app", "SET   search_path TO app"},
		{Postgres, "SET /* a /* nested */ still */ x = 1", "SET   x = 1"},
		{Postgres, "SET x = '-- not a comment /* nor this */'", "SET x = '-- not a comment /* nor this */'"},
		{Postgres, "SET x = E'it\\'s -- kept' -- gone", "SET x = E'it\\'s -- kept'  "},
		{Postgres, "SELECT $$ -- kept $$, $t$ /* kept */ $t$ -- gone", "SELECT $$ -- kept $$, $t$ /* kept */ $t$  "},
		{Postgres, `SELECT "a--b" -- gone`, `SELECT "a--b"  `},
		{Postgres, "SELECT a$b -- gone", "SELECT a$b  "},
		{Postgres, "SELECT 'unterminated -- x", "SELECT 'unterminated -- x"},
		{MySQL, "SET FOREIGN_KEY_CHECKS = 0 # off", "SET FOREIGN_KEY_CHECKS = 0  "},
		{MySQL, "SET x = 1 -- gone", "SET x = 1  "},
		{MySQL, "SET x = 1--1", "SET x = 1--1"},
		{MySQL, "/*!40101 SET NAMES utf8mb4 */", "  SET NAMES utf8mb4  "},
		{MySQL, "/*M!100101 SET x = 1 */ # c", "  SET x = 1    "},
		{MySQL, "SET @a = 'it\\'s # kept', @b = `x#y` # gone", "SET @a = 'it\\'s # kept', @b = `x#y`  "},
		{MySQL, "SET /*+ hint */ x = 1", "SET   x = 1"},
		{MySQL, "/*M!999999\\- enable the sandbox mode */\nSET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT", " \nSET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT"},
		{MySQL, "/*!99999 never */ SET x = 1", "  SET x = 1"},
		// MariaDB reads /*M!99999 as 9.99.99, which it runs.
		{MySQL, "ROLLBACK /*M!99999 TO sp */", "ROLLBACK   TO sp  "},
		{MySQL, "/*!90000 SET x = 1 */", "  SET x = 1  "},
		{SQLite, "PRAGMA foreign_keys = ON -- on", "PRAGMA foreign_keys = ON  "},
		{SQLite, "SELECT [a--b], `c/*d` /* gone */", "SELECT [a--b], `c/*d`  "},
		{SQLite, "ATTACH 'C:\\data\\' AS x -- gone", "ATTACH 'C:\\data\\' AS x  "},
	} {
		if got := StripComments(c.d, c.in); got != c.out {
			t.Errorf("StripComments(%s, %q) = %q, want %q", c.d, c.in, got, c.out)
		}
	}
}

func TestStatementFor(t *testing.T) {
	for sql, want := range map[string]string{
		"SET STATEMENT lock_wait_timeout=5 FOR ALTER TABLE t ADD j int":            "ALTER TABLE t ADD j int",
		"set statement a = 1, b = 'x' for\n  optimize table t":                     "optimize table t",
		"SET STATEMENT sql_mode='FOR' FOR INSERT INTO t VALUES (1)":                "INSERT INTO t VALUES (1)",
		"SET STATEMENT a=(SELECT 1 FROM u FOR UPDATE) FOR DELETE FROM t":           "DELETE FROM t",
		"/* c */ SET -- d\n STATEMENT a=1 /* FOR x */ FOR CREATE TABLE t2 (i int)": "CREATE TABLE t2 (i int)",
		"SET STATEMENT formula=1 FOR DROP TABLE t":                                 "DROP TABLE t",
		"SET STATEMENT max_statement_time=@for FOR SELECT 1":                       "SELECT 1",
		"SET STATEMENT a=t.for FOR SELECT 2":                                       "SELECT 2",
	} {
		if got, ok := StatementFor(sql); !ok || got != want {
			t.Errorf("StatementFor(%q) = %q, %v; want %q", sql, got, ok, want)
		}
	}
	for _, sql := range []string{"SET @x = 1", "SET statement_x = 1", "SELECT 'SET STATEMENT a=1 FOR DROP TABLE t'", "SET STATEMENT a = 1", "UPDATE t SET statement = 1 FOR x"} {
		if got, ok := StatementFor(sql); ok {
			t.Errorf("StatementFor(%q) = %q, true; want false", sql, got)
		}
	}
}
