package runway

import (
	"fmt"
	"slices"
	"testing"

	"github.com/runwaydb/runway/migration"
)

// setsSession reports whether a resumed run sends sql again, alone.
func setsSession(d migration.Dialect, sql string) bool { return len(sessionEffect(d, sql).keys) > 0 }

func TestSetsSession(t *testing.T) {
	pg, my, lite := migration.Postgres, migration.MySQL, migration.SQLite
	for _, c := range []struct {
		d    migration.Dialect
		sql  string
		want bool
	}{
		{pg, "SET search_path TO app, public", true},
		{pg, "set search_path=app", true},
		{pg, "SET SESSION lock_timeout = '5s'", true},
		{pg, "SET lock_timeout TO DEFAULT", true},
		{pg, "SET ROLE migrator", true},
		{pg, "SET SESSION AUTHORIZATION app", true},
		{pg, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", true},
		{pg, "SET TIME ZONE 'UTC'", true},
		{pg, "SET default_transaction_read_only = off", true},
		{pg, "RESET search_path", true},
		{pg, "RESET ALL", false}, // a new session has nothing to reset (see TestSessionSetters)
		{pg, "DISCARD ALL", false},
		{pg, "SELECT set_config('app.snap', 'x', false) AS v INTO snapshot_tbl", false},
		{pg, "SELECT set_config('app.id', nextval('ids')::text, false)", false},
		{pg, "SELECT set_config('app.id', 'x', true)", false},
		{pg, "SELECT set_config('app.id', 'it''s', false), 1", false},
		{pg, "SELECT set_config('app.id', 'it''s', false)", true},
		{pg, "SELECT pg_catalog.set_config('search_path', '', false)", true},
		{pg, "select  set_config('app.tenant', 'x', false)", true},
		{pg, "SET LOCAL statement_timeout = 0", false},
		{pg, "SET CONSTRAINTS ALL DEFERRED", false},
		{pg, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", false},
		{pg, "SET transaction_read_only = on", false},
		{pg, "SELECT 1", false},
		{pg, "SELECT count(*) FROM set_config_log", false},
		{pg, "USE app", false},
		{pg, "CREATE TABLE settings (id int)", false},
		{pg, "UPDATE t SET x = 1", false},

		{my, "SET FOREIGN_KEY_CHECKS=0", true},
		{my, "SET NAMES utf8mb4", true},
		{my, "SET CHARACTER SET utf8mb4", true},
		{my, "SET sql_mode = 'ANSI_QUOTES'", true},
		{my, "SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0", true},
		{my, "SET @@session.sql_mode = ''", true},
		{my, "SET @@sql_mode = ''", true},
		{my, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", true},
		{my, "SET SESSION time_zone = '+00:00'", true},
		{my, "SET @tenant := 42", true},
		{my, "SET @s = 'it''s (not) a call, or two'", true},
		{my, "SET @admin_id = LAST_INSERT_ID()", false},
		{my, "SET @batch = UUID()", false},
		{my, "SET @n = (SELECT max(id) FROM t)", false},
		{my, "SET @t = CURRENT_TIMESTAMP", false},
		{my, "SET @i = @@identity", false},
		{my, "SET autocommit=0, unique_checks=0, foreign_key_checks=0", true},
		{my, "SET FOREIGN_KEY_CHECKS=0, autocommit=0", true},
		{my, "SET autocommit:=0", true},
		{my, "SET @@autocommit:=0", true},
		{my, "SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0", true},
		{my, "SET @`weird name` = 'w', @'q' = 'q'", true},
		{my, "SET @a=1, GLOBAL max_connections=157", false},
		{my, "SET sql_mode='', @@global.max_connections=1", false},
		{my, "SELECT id INTO @admin FROM users", false},
		{my, "SELECT @v := 1", false},
		{my, "SET @id = NEXT VALUE FOR s", false},
		{my, "SET @id = PREVIOUS VALUE FOR s", false},
		{my, "SET @id = s.nextval", false},
		{my, "SET @t = @@session.timestamp", false},
		{my, "SET @t = @@SESSION.identity", false},
		{my, "SET @li = @@local.insert_id", false},
		{pg, "SET application_name = 'foo (bar)'", true},
		{my, "USE other_db", true},
		{my, "/*!40101 SET NAMES utf8mb4 */", true},
		{my, "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */", true},
		{my, "/*M!100101 SET NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */", true},
		{my, "/*!40000 ALTER TABLE t DISABLE KEYS */", false},
		{my, "SET GLOBAL max_connections = 500", false},
		{my, "SET @@GLOBAL.max_connections = 500", false},
		{my, "SET PERSIST max_connections = 500", false},
		{my, "SET PASSWORD FOR app = 'x'", false},
		{my, "SET DEFAULT ROLE ALL TO app", false},
		{my, "SET STATEMENT max_statement_time=60 FOR SELECT 1", false},
		{my, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", false},
		{my, "SET autocommit = 0", true},
		{my, "SET @@session.autocommit=0", true},
		{my, "RESET QUERY CACHE", false},
		{my, "SELECT set_config('a', 'b', false)", false},

		{lite, "PRAGMA foreign_keys = OFF", true},
		{lite, "PRAGMA main.case_sensitive_like=ON", true},
		{lite, "PRAGMA recursive_triggers(1)", true},
		{lite, "ATTACH DATABASE 'aux.db' AS aux", true},
		{lite, "DETACH aux", false}, // undoes an ATTACH (see TestSessionSetters)
		{lite, "PRAGMA \"foreign_keys\"=OFF", true},
		{lite, "PRAGMA aux.foreign_keys = OFF", true},
		{lite, "PRAGMA foreign_keys", false},
		{lite, "PRAGMA journal_mode = WAL", false},
		{lite, "PRAGMA user_version = 3", false},
		{lite, "PRAGMA busy_timeout = 100", false},
		{lite, "PRAGMA optimize", false},
	} {
		if got := setsSession(c.d, c.sql); got != c.want {
			t.Errorf("%s: setsSession(%q) = %v, want %v", c.d, c.sql, got, c.want)
		}
	}
}

func TestSessionSetters(t *testing.T) {
	pg, my, lite := migration.Postgres, migration.MySQL, migration.SQLite
	for _, c := range []struct {
		name  string
		d     migration.Dialect
		stmts []string
		want  []int // the numbers sent again
	}{
		{"in order", pg, []string{"CREATE SCHEMA app", "SET search_path TO app", "CREATE TABLE t (id int)", "SET lock_timeout = '2s'"}, []int{2, 4}},
		{"the last of the same", my, []string{"SET @p = 'a'", "INSERT INTO t VALUES (@p)", "SET @p = 'b'", "INSERT INTO t VALUES (@p)", "SET @p = 'c'"}, []int{5}},
		{"USE tmp, then USE main", my, []string{"CREATE DATABASE tmp", "USE tmp", "CREATE TABLE x (id int)", "USE main", "DROP DATABASE tmp"}, []int{4}},
		{"read before set again", my, []string{"SET @a = 1", "SET @b = @a", "SET @a = 2"}, []int{1, 2, 3}},
		{"set again from itself", my, []string{"SET @a = 1", "SET @a = @a + 1"}, []int{1, 2}},
		{"mysqldump's header and trailer", my, []string{
			"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */",
			"CREATE TABLE a (id int)",
			"/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */",
		}, []int{1, 3}},
		{"SET ROLE, RESET ROLE", pg, []string{"CREATE ROLE tmp", "SET ROLE tmp", "CREATE TABLE a (id int)", "RESET ROLE", "DROP ROLE tmp"}, []int{4}},
		{"RESET ALL keeps the role", pg, []string{"SET ROLE app", "SET search_path TO app", "RESET ALL", "SET lock_timeout = '1s'"}, []int{1, 4}},
		{"DISCARD ALL", pg, []string{"SET ROLE app", "SET search_path TO app", "DISCARD ALL", "CREATE TABLE p1 (id int)"}, nil},
		{"a rolled back block", pg, []string{"SET search_path TO a", "BEGIN", "SET search_path TO trial", "CREATE TABLE probe (id int)", "ROLLBACK", "CREATE TABLE x (id int)"}, []int{1}},
		{"a committed block", pg, []string{"BEGIN", "SET search_path TO app", "SET LOCAL lock_timeout = '1s'", "COMMIT"}, []int{2}},
		{"rolled back to a savepoint", pg, []string{"BEGIN", "SET search_path TO a", "SAVEPOINT s", "SET search_path TO b", "SET lock_timeout = '1s'", "ROLLBACK TO SAVEPOINT s", "COMMIT"}, []int{2}},
		{"ATTACH, DETACH", lite, []string{"ATTACH DATABASE 'a.db' AS aux", "INSERT INTO aux.t VALUES (1)", "DETACH DATABASE aux", "ATTACH 'b.db' AS other"}, []int{4}},
		{"MySQL keeps a rolled back SET", my, []string{"START TRANSACTION", "SET @x = 1", "ROLLBACK"}, []int{2}},
		{"a name that holds another's", my, []string{"CREATE DATABASE t2", "USE t2", "SET @user = 'bob'", "USE main", "DROP DATABASE t2"}, []int{3, 4}},
		{"a role set again, another set between", pg, []string{"SET ROLE rv_tmp", "SET session_replication_role = replica", "RESET ROLE", "DROP ROLE rv_tmp"}, []int{2, 3}},
		{"isolation, then access mode", my, []string{"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET SESSION TRANSACTION READ WRITE"}, []int{1, 2}},
		{"characteristics", pg, []string{"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"}, []int{1, 2}},
		{"NAMES read under another name", my, []string{"SET NAMES latin1", "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", "/*!40101 SET NAMES utf8mb4 */"}, []int{1, 2, 3}},
		{"a quoted variable", my, []string{"SET @'x' = 1", "SET @y = @x", "SET @`x` = 2"}, []int{1, 2, 3}},
		{"a reader set again", my, []string{"SET @a = 1", "SET @b = @a", "SET @a = 2", "SET @b = @a", "SET @a = 3"}, []int{3, 4, 5}},
		{"ATTACH across lines", lite, []string{"ATTACH DATABASE 'a.db'\nAS aux"}, []int{1}},

		// Unset rather than stale: a later value not sent again.
		{"a variable set again from a function", my, []string{"SET @parent = 1", "INSERT INTO child VALUES (@parent)", "SET @parent = LAST_INSERT_ID()"}, nil},
		{"a variable set again by SELECT INTO", my, []string{"SET @n = 0", "SELECT count(*) INTO @n FROM users"}, nil},
		{"SELECT INTO a list", my, []string{"SET @a = 1", "SET @b = 2", "SET @c = 3", "SELECT x, y INTO @a, @`b` FROM t"}, []int{3}},
		{"an assignment in a query", my, []string{"SET @rank = 0", "UPDATE t SET r = (@rank := @rank + 1)"}, nil},
		{"an assignment in a SET's value", my, []string{"SET @b = 1", "SET @a = 1 + (@b := 5)"}, nil},
		{"CHARACTER SET reads the database", my, []string{"USE a", "SET CHARACTER SET latin1", "USE main"}, []int{1, 2, 3}},
		{"NAMES does not", my, []string{"USE a", "SET NAMES latin1", "USE main"}, []int{2, 3}},
		{"a prepared transaction's settings", pg, []string{"BEGIN", "SET search_path TO app", "PREPARE TRANSACTION 'x'", "ROLLBACK"}, []int{2}},
		{"an assignment in a trigger's body", my, []string{"SET @n = 0", "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @n := @n + 1"}, []int{1}},
		{"a CALL's arguments", my, []string{"SET @out = 0", "SET @in = 1", "CALL p(@in, @out)"}, nil},
		{"a SET not sent, its constants too", my, []string{"SET @a = 1", "SET @a = 2, @b = UUID()"}, nil},
		{"sql_mode from itself", my, []string{"SET sql_mode = 'ANSI_QUOTES'", "SET sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')"}, nil},
		{"an INTO that names a table", my, []string{"SET @a = 1", "INSERT INTO t VALUES (@a)"}, []int{1}},
		{"an e-mail in a value", my, []string{"SET @a = 1", "INSERT INTO t VALUES ('a@b.c', @a)"}, []int{1}},
		{"set_config of an expression", pg, []string{"SELECT set_config('app.tenant', 'a', false)", "SELECT set_config('app.tenant', current_user, false)"}, nil},
		{"set_config, local", pg, []string{"SELECT set_config('app.tenant', 'a', false)", "SELECT set_config('app.tenant', current_user, true)"}, []int{1}},
		{"set_config in a DO block", pg, []string{"SET search_path TO app", "DO $$ BEGIN PERFORM set_config('search_path', 'x' || 'y', false); END $$"}, nil},

		// What the next statement uses up, and credentials.
		{"a one-shot INSERT_ID", my, []string{"SET INSERT_ID = 1000", "INSERT INTO plans (name) VALUES ('x')"}, nil},
		{"SET PASSWORD= without a space", my, []string{"SET PASSWORD='*89063080929868A5DFEC18596EC951918DC26DB5'"}, nil},
		{"GLOBAL holds for the next assignment", my, []string{"SET sql_mode = 'ANSI'", "SET GLOBAL max_connections = 157, sql_mode = ''"}, []int{1}},
		{"SESSION after GLOBAL", my, []string{"SET sql_mode = 'ANSI'", "SET GLOBAL max_connections = 157, SESSION sql_mode = ''"}, nil},
		{"SET GLOBAL with a user variable", my, []string{"SET @a = 1", "SET GLOBAL max_connections = 157, @a = 2"}, nil},
		{"SET @@insert_id", my, []string{"SET @@session.insert_id = 5, @a = 1"}, nil},

		// Comments.
		{"a comment with parentheses in a SET", pg, []string{"SET search_path TO\n  app, -- tenant tables (see ADR-12)\n  public"}, []int{1}},
		{"comments after SET", pg, []string{"SET /* a */ search_path TO app", "SET /* a */ lock_timeout = '5s'"}, []int{1, 2}},
		{"a comment in a MySQL SET", my, []string{"SET /* c */ FOREIGN_KEY_CHECKS=0", "SET sql_mode = '' # (none)"}, []int{1, 2}},
		{"a comment in an executable comment", my, []string{"/*!40101 SET NAMES utf8mb4 -- (x)\n */"}, []int{1}},

		// Transactions.
		{"a BEGIN inside a block", pg, []string{"SET search_path TO app", "BEGIN", "SET search_path TO trial", "BEGIN", "ROLLBACK"}, []int{1}},
		{"PRAGMA foreign_keys in a transaction does nothing", lite, []string{"BEGIN", "PRAGMA foreign_keys = OFF", "COMMIT"}, nil},
		{"PRAGMA foreign_keys after the transaction", lite, []string{"BEGIN", "PRAGMA foreign_keys = OFF", "COMMIT", "PRAGMA foreign_keys = OFF"}, []int{4}},
		{"PRAGMA foreign_keys in a savepoint's transaction", lite, []string{"SAVEPOINT a", "PRAGMA foreign_keys = OFF", "RELEASE a", "PRAGMA foreign_keys = ON"}, []int{4}},
		{"PRAGMA foreign_keys in a savepoint inside a transaction", lite, []string{"BEGIN", "SAVEPOINT a", "RELEASE a", "PRAGMA foreign_keys = OFF", "COMMIT"}, nil},
		{"another PRAGMA in a transaction", lite, []string{"BEGIN", "PRAGMA recursive_triggers = ON", "COMMIT"}, []int{2}},

		// What the script dropped.
		{"USE of a database the script dropped", my, []string{"CREATE DATABASE s", "USE s", "CREATE TABLE t (id int)", "DROP DATABASE s", "CREATE TABLE main.u (id int)"}, nil},
		{"USE of a database dropped in another spelling", my, []string{"USE `s`", "DROP SCHEMA IF EXISTS s"}, nil},
		{"USE of another database than the one dropped", my, []string{"USE main", "DROP DATABASE s"}, []int{1}},
		{"USE of a database dropped, then another", my, []string{"USE a", "USE b", "DROP DATABASE a"}, []int{2}},
		{"SET ROLE of a dropped role", my, []string{"SET ROLE r", "DROP ROLE IF EXISTS x, r"}, nil},
		{"SET SESSION AUTHORIZATION resets the role", pg, []string{"CREATE ROLE tmp", "SET ROLE tmp", "SET SESSION AUTHORIZATION DEFAULT", "DROP ROLE tmp"}, []int{3}},
		{"RESET SESSION AUTHORIZATION resets the role", pg, []string{"SET ROLE tmp", "RESET SESSION AUTHORIZATION"}, []int{2}},
		{"a quoted role", pg, []string{`SET ROLE "Tmp"`, "DROP ROLE tmp"}, []int{1}},
		{"a role in another case", pg, []string{`SET ROLE Tmp`, "DROP ROLE tmp"}, nil},

		// Code that runs later, and data.
		{"a function's body", pg, []string{"CREATE SCHEMA app", "SET search_path TO app", "CREATE FUNCTION set_path(p text) RETURNS text LANGUAGE sql AS $$ SELECT set_config('search_path', p, false) $$", "CREATE TABLE t1 (id int)"}, []int{2}},
		{"a view", pg, []string{"SET search_path TO app", "CREATE OR REPLACE VIEW v AS SELECT set_config('search_path', 'x' || 'y', false)"}, []int{1}},
		{"a dollar-quoted value", pg, []string{"SET search_path TO app", "INSERT INTO snippets VALUES ($$SELECT set_config('search_path', x, false)$$)"}, []int{1}},
		{"a string value", pg, []string{"SET search_path TO app", "INSERT INTO snippets VALUES ('set_config(''search_path'', x, false)')"}, []int{1}},
		{"pg_dump's header, then a function", pg, []string{"SELECT pg_catalog.set_config('search_path', '', false)", "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', 'x' || '', false); END $$"}, []int{1}},
		{"a parameter of $1", pg, []string{"SET search_path TO app", "PREPARE p AS SELECT set_config('search_path', $1, false)"}, []int{1}},
		{"is_local 'on'", pg, []string{"SELECT set_config('app.a', 'x', false)", "SELECT set_config('app.a', current_user, 'on')"}, []int{1}},
		{"an expression in a CALL", my, []string{"SET @a = 1", "CALL p(CONCAT(@a, 'x'))"}, []int{1}},
		{"CREATE TABLE … SELECT runs now", my, []string{"SET @r = 0", "CREATE TABLE t2 AS SELECT @r := @r + 1 AS n FROM t"}, nil},
		{"LOAD DATA's variables", my, []string{"SET @c = 1", "LOAD DATA INFILE 'x' INTO TABLE t (@c) SET b = @c"}, nil},
		{"SET without a space", my, []string{"SET@a=1"}, []int{1}},
		{"an E string", pg, []string{"SET application_name = E'it\\'s'"}, []int{1}},

		// autocommit.
		{"mariadb-dump --no-autocommit's table, rolled back", my, []string{"CREATE TABLE t (id int)", "SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0"}, []int{2}},
		{"autocommit off, then on again", my, []string{"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0", "INSERT INTO t VALUES (1)", "COMMIT", "SET AUTOCOMMIT=@OLD_AUTOCOMMIT"}, []int{1, 4}},
		{"autocommit off, on by a constant", my, []string{"SET autocommit = 0", "COMMIT", "SET autocommit = 1"}, []int{3}},

		// Comments and long names in transaction control.
		{"a savepoint name used twice, released", pg, []string{"BEGIN", "SAVEPOINT s", "SET search_path TO a", "SAVEPOINT s", "RELEASE s", "ROLLBACK TO s", "COMMIT"}, nil},
		{"a released savepoint's settings kept", pg, []string{"BEGIN", "SAVEPOINT s", "SET search_path TO a", "RELEASE SAVEPOINT s", "COMMIT"}, []int{3}},
		{"ROLLBACK with a comment before TO", pg, []string{"BEGIN", "SET search_path TO app", "SAVEPOINT s", "SET search_path TO b", "ROLLBACK /* partial */ TO SAVEPOINT s", "COMMIT"}, []int{2}},
		{"SAVEPOINT with a comment", pg, []string{"BEGIN", "SET search_path TO app", "SAVEPOINT /* c */ s", "SET search_path TO b", "ROLLBACK TO SAVEPOINT s", "COMMIT"}, []int{2}},
		{"a long savepoint name", pg, []string{"BEGIN", "SET search_path TO app", "SAVEPOINT before_loading_the_customer_tables", "SET lock_timeout = '1s'", "ROLLBACK TRANSACTION TO SAVEPOINT before_loading_the_customer_tables", "COMMIT"}, []int{2}},
		{"a SQLite SAVEPOINT with a comment", lite, []string{"SAVEPOINT /*x*/ a", "RELEASE a", "PRAGMA foreign_keys = OFF"}, []int{3}},

		// Isolation by variable.
		{"a session isolation set again by variable", my, []string{"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET SESSION tx_isolation = 'READ-COMMITTED'"}, []int{2}},
		{"the next transaction's isolation", my, []string{"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET @@transaction_isolation = 'READ-COMMITTED'"}, []int{1}},
		{"isolation by @@session", my, []string{"SET @@session.transaction_read_only = 1"}, []int{1}},

		// SQLite.
		{"ATTACH of an expression", lite, []string{"ATTACH 'a_' || strftime('%s','now') || '.db' AS archive"}, nil},
		{"ATTACH of a Windows path", lite, []string{`ATTACH 'C:\data\' AS x`}, []int{1}},
		{"writable_schema", lite, []string{"PRAGMA writable_schema = ON"}, []int{1}},
	} {
		var stmts []migration.Statement
		for i, sql := range c.stmts {
			stmts = append(stmts, migration.Statement{SQL: sql, Line: i + 1})
		}
		got := replayedNumbers(sessionSetters(c.d, stmts))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: sent again %v, want %v", c.name, got, c.want)
		}
	}
}

// What a statement sent again sets, and a later statement set from a value
// not sent again, is unset after it, under the later statement's number.
func TestSessionSettersUnset(t *testing.T) {
	pg, my := migration.Postgres, migration.MySQL
	for _, c := range []struct {
		name  string
		d     migration.Dialect
		stmts []string
		want  []string // number: SQL sent
	}{
		{"read before the kill", my, []string{"SET @parent = 999", "SET @label = @parent", "INSERT INTO parent VALUES (1)", "SET @parent = LAST_INSERT_ID()"},
			[]string{"1: SET @parent = 999", "2: SET @label = @parent", "4: SET @`parent` = NULL"}},
		{"set with another", my, []string{"/*!40014 SET @OLD_FK=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */", "SELECT 1 INTO @OLD_FK"},
			[]string{"1: /*!40014 SET @OLD_FK=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */", "2: SET @`old_fk` = NULL"}},
		// A system variable's DEFAULT is the global value, not the one the
		// URL gave the session: left as sent again.
		{"a system variable", my, []string{"SET sql_mode = 'ANSI', @a = 1", "SET sql_mode = CONCAT(@@sql_mode, ',X')"},
			[]string{"1: SET sql_mode = 'ANSI', @a = 1"}},
		{"set twice from a function", my, []string{"SET @parent = 999", "SET @label = @parent", "SET @parent = LAST_INSERT_ID()", "INSERT INTO t VALUES (1)", "SET @parent = LAST_INSERT_ID()"},
			[]string{"1: SET @parent = 999", "2: SET @label = @parent", "5: SET @`parent` = NULL"}},
		{"set twice, read between", my, []string{"SET @p = 1, @q = 2", "SET @p = UUID()", "SET @r = @p", "SET @p = UUID()"},
			[]string{"1: SET @p = 1, @q = 2", "2: SET @`p` = NULL", "3: SET @r = @p"}},
		{"set_config of the session's user", pg, []string{"SET ROLE app", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SELECT set_config('session_authorization', current_user, false)"},
			[]string{"2: SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"}},
		{"set again after the kill", my, []string{"SET @p = 1, @q = 2", "SET @p = UUID()", "SET @p = 3"},
			[]string{"1: SET @p = 1, @q = 2", "3: SET @p = 3"}},
		{"a kill with nothing before", my, []string{"SET @p = UUID()", "SET @q = 1"}, []string{"2: SET @q = 1"}},
		{"a role", my, []string{"SET ROLE r", "SET @x = CURRENT_ROLE()", "DROP ROLE r"}, nil},
		{"a parameter", pg, []string{"SELECT set_config('app.a', 'x', false)", "SET app.b = 'y'", "SELECT set_config('app.b', current_user, false), set_config('app.a', current_user, false)"},
			nil},
		{"a parameter read", pg, []string{"SET search_path TO app", "SELECT set_config('search_path', current_schema() || ',x', false)"}, nil},
		{"a compacted list", my, append(slices.Repeat([]string{"SET @q = 2"}, 200), "SET @p = 1, @r = 1", "SET @p = UUID()"),
			[]string{"200: SET @q = 2", "201: SET @p = 1, @r = 1", "202: SET @`p` = NULL"}},
	} {
		var stmts []migration.Statement
		for i, sql := range c.stmts {
			stmts = append(stmts, migration.Statement{SQL: sql, Line: i + 1})
		}
		var got []string
		for _, r := range sessionSetters(c.d, stmts) {
			got = append(got, fmt.Sprintf("%d: %s", r.number, r.st.SQL))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: sent %q, want %q", c.name, got, c.want)
		}
	}
	if got := unsetSQL(migration.Postgres, []string{"role", "session_authorization", "app.tenant", "search_path", "Odd Name"}); !slices.Equal(got,
		[]string{"RESET ROLE", "RESET SESSION AUTHORIZATION", "RESET app.tenant", "RESET search_path"}) {
		t.Errorf("unsetSQL(postgres) = %q", got)
	}
	if got := unsetSQL(migration.MySQL, []string{"role", "use", "@a`b", "sql_mode", "transaction_isolation", "@c"}); !slices.Equal(got,
		[]string{"SET @`a``b` = NULL, @`c` = NULL"}) {
		t.Errorf("unsetSQL(mysql) = %q", got)
	}
}

func TestLeadWordsReadsQuotedNames(t *testing.T) {
	for sql, want := range map[string]string{
		"SAVEPOINT `a--b`":         "A--B",
		`RELEASE SAVEPOINT "x--c"`: "X--C",
		"SAVEPOINT [a /* b */]":    "A /* B */",
		"SAVEPOINT /* c */ s":      "S",
		"RELEASE a--b":             "A",
		`SAVEPOINT "unterminated`:  "UNTERMINATED",
	} {
		if got := savepointName(sql); got != want {
			t.Errorf("savepointName(%q) = %q, want %q", sql, got, want)
		}
	}
}

func TestSessionSettersNumbersThem(t *testing.T) {
	stmts := []migration.Statement{
		{SQL: "CREATE SCHEMA app", Line: 1},
		{SQL: "SET search_path TO app", Line: 2},
		{SQL: "CREATE TABLE t (id int)", Line: 3},
		{SQL: "SET lock_timeout = '2s'", Line: 5},
	}
	got := sessionSetters(migration.Postgres, stmts)
	if len(got) != 2 || got[0].number != 2 || got[0].st.Line != 2 || got[1].number != 4 || got[1].st.SQL != "SET lock_timeout = '2s'" {
		t.Errorf("sessionSetters = %+v", got)
	}
	if got := replayedNumbers(got); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("replayedNumbers = %v", got)
	}
}
