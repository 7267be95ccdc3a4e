package runway

import (
	"testing"

	"github.com/runwaydb/runway/migration"
)

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
		{pg, "RESET ALL", true},
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
		{my, "SET autocommit = 0", false},
		{my, "SET @@session.autocommit=0", false},
		{my, "RESET QUERY CACHE", false},
		{my, "SELECT set_config('a', 'b', false)", false},

		{lite, "PRAGMA foreign_keys = OFF", true},
		{lite, "PRAGMA main.case_sensitive_like=ON", true},
		{lite, "PRAGMA recursive_triggers(1)", true},
		{lite, "ATTACH DATABASE 'aux.db' AS aux", true},
		{lite, "DETACH aux", true},
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
