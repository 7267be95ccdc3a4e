package runway

import (
	"strings"
	"testing"

	"github.com/runwaydb/runway/migration"
)

// Which scripts txTracker finds leaving a transaction open, as each
// dialect runs them statement by statement.
func TestTxEndCheck(t *testing.T) {
	cases := []struct {
		d     migration.Dialect
		stmts []string
		want  string // "LINE: what the error names", "" for no error
	}{
		{migration.Postgres, []string{"CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)"}, ""},
		{migration.Postgres, []string{"BEGIN", "INSERT INTO a VALUES (1)", "COMMIT"}, ""},
		{migration.Postgres, []string{"BEGIN", "INSERT INTO a VALUES (1)", "END"}, ""},
		{migration.Postgres, []string{"BEGIN", "INSERT INTO a VALUES (1)", "ABORT"}, ""},
		{migration.Postgres, []string{"BEGIN", "SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "COMMIT"}, ""},
		{migration.Postgres, []string{"BEGIN", "SAVEPOINT s", "ROLLBACK TO SAVEPOINT s"}, "1: BEGIN"},
		{migration.Postgres, []string{"BEGIN", "CREATE TABLE b (id int)"}, "1: BEGIN"}, // PostgreSQL's DDL commits nothing
		{migration.Postgres, []string{"BEGIN ISOLATION LEVEL SERIALIZABLE", "INSERT INTO a VALUES (1)", "PREPARE TRANSACTION 'x'"}, ""},
		{migration.Postgres, []string{"DO $$ BEGIN PERFORM 1; END $$"}, ""},
		{migration.Postgres, []string{"START TRANSACTION", "SELECT 1"}, "1: START TRANSACTION"},
		{migration.SQLite, []string{"BEGIN IMMEDIATE", "INSERT INTO a VALUES (1)", "END TRANSACTION"}, ""},
		{migration.SQLite, []string{"INSERT INTO a VALUES (1)", "BEGIN", "INSERT INTO a VALUES (2)"}, "2: BEGIN"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "COMMIT"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "ALTER TABLE a ADD b int"}, ""},
		{migration.MySQL, []string{"BEGIN", "UPDATE a SET id = 2", "TRUNCATE TABLE c"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET STATEMENT lock_wait_timeout = 5 FOR ALTER TABLE a ADD b int"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET STATEMENT max_statement_time = 1 FOR SELECT 1"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET PASSWORD FOR 'u'@'%' = ''"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET DEFAULT ROLE r FOR 'u'@'%'"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET PASSWORD=PASSWORD('')"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "/*M!100301 SET STATEMENT lock_wait_timeout=5 FOR */ SELECT 1"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "/*!40101 SET NAMES utf8mb4 */"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "/*!99999 ALTER TABLE a ADD c int */"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "/*!40000 ALTER TABLE a DISABLE KEYS */"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE OR REPLACE TEMPORARY TABLE t5 (i int)"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE /*!32302 TEMPORARY */ TABLE tt (i int)"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE OR REPLACE TABLE t6 (i int)"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE TEMPORARY SEQUENCE s"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE OR REPLACE TEMPORARY SEQUENCE s"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE /* a */ TEMPORARY # b\nSEQUENCE s"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "DROP TEMPORARY SEQUENCE s"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE # note\nTEMPORARY TABLE tt (i int)"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE -- note\nTEMPORARY TABLE tt (i int)"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE # note\nTABLE t7 (i int)"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE /*!32302 TEMPORARY */ TABLE tt (c varchar(700) DEFAULT '" + strings.Repeat("x", 600) + "')"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE /* " + strings.Repeat("x", 600) + " */ TEMPORARY TABLE tt (i int)"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE # note\nTEMPORARY TABLE tt (c varchar(700) DEFAULT '" + strings.Repeat("x", 600) + "')"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES ('a#b', '--x', '/* no */')", "COMMIT"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "CREATE /*!32302 TEMPORARY */ TABLE tt (p varchar(20) DEFAULT 'C:\\')"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET STATEMENT max_statement_time=@for FOR SELECT 1"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "/*M!100301 SET STATEMENT lock_wait_timeout = 5 FOR */ ALTER TABLE a ADD c int"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "SET time_zone = '+00:00'"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"BEGIN", "CREATE TEMPORARY TABLE tmp (id int)", "INSERT INTO tmp SELECT * FROM a"}, "1: BEGIN"},
		{migration.MySQL, []string{"BEGIN NOT ATOMIC SELECT 1; END"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "DELETE FROM a", "ROLLBACK"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "SAVEPOINT s", "ROLLBACK TO s"}, "1: START TRANSACTION"},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "COMMIT AND CHAIN"}, "3: COMMIT AND CHAIN"},
		// Transaction control inside an executable comment that the
		// server runs: MariaDB runs /*M!99999 (9.99.99), every server
		// /*!40101; not /*!99999.
		{migration.MySQL, []string{"BEGIN", "INSERT INTO a VALUES (1)", "/*M!99999 COMMIT AND CHAIN */", "INSERT INTO a VALUES (2)"}, "3: COMMIT AND CHAIN"},
		{migration.MySQL, []string{"BEGIN", "INSERT INTO a VALUES (1)", "/*!40101 COMMIT AND CHAIN */", "INSERT INTO a VALUES (2)"}, "3: COMMIT AND CHAIN"},
		{migration.MySQL, []string{"INSERT INTO a VALUES (1)", "/*M!99999 BEGIN */", "INSERT INTO a VALUES (2)"}, "2: BEGIN"},
		{migration.MySQL, []string{"INSERT INTO a VALUES (1)", "/*!40101 ROLLBACK AND CHAIN */", "INSERT INTO a VALUES (2)"}, "2: ROLLBACK AND CHAIN"},
		{migration.MySQL, []string{"BEGIN", "INSERT INTO a VALUES (1)", "/*!40101 COMMIT */"}, ""},
		{migration.MySQL, []string{"BEGIN", "INSERT INTO a VALUES (1)", "COMMIT /*!99999 AND CHAIN */"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "commit and no chain"}, ""},
		{migration.MySQL, []string{"SET autocommit = 0", "INSERT INTO a VALUES (1)", "COMMIT"}, ""}, // the driver turns it back on
		{migration.MySQL, []string{"SET autocommit = 0", "COMMIT", "INSERT INTO a VALUES (1)"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"SET AUTOCOMMIT = 0", "SET time_zone = '+00:00'", "START TRANSACTION", "INSERT INTO a VALUES (1)", "COMMIT",
			"/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */"}, ""}, // phpMyAdmin's export
		{migration.MySQL, []string{"SET autocommit = 0", "INSERT INTO a VALUES (1)", "CREATE TABLE b (id int)"}, ""},
		{migration.MySQL, []string{"SET autocommit = 0", "SELECT 1", "SET @x = 1"}, ""},
		{migration.MySQL, []string{"SET autocommit = 0", "COMMIT", "CREATE TEMPORARY TABLE tmp (id int)", "DROP TEMPORARY TABLE tmp"}, ""},
		{migration.MySQL, []string{"SET autocommit = 0", "COMMIT", "WITH x AS (SELECT 1) DELETE FROM a WHERE id IN (SELECT * FROM x)"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"SET SESSION autocommit=OFF", "INSERT INTO a VALUES (1)", "COMMIT", "SET autocommit = ON"}, ""},
		{migration.MySQL, []string{"set @@autocommit := 0", "INSERT INTO a VALUES (1)"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"SET autocommit = 0", "SET autocommit = 1", "INSERT INTO a VALUES (1)"}, ""},
		{migration.MySQL, []string{"SET autocommit = @saved", "INSERT INTO a VALUES (1)"}, ""}, // a value Runway cannot read
		{migration.MySQL, []string{"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0", "INSERT INTO a VALUES (1)", "COMMIT",
			"SET AUTOCOMMIT=@OLD_AUTOCOMMIT", "INSERT INTO a VALUES (2)"}, ""}, // mariadb-dump --no-autocommit, then a change
		{migration.MySQL, []string{"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0", "INSERT INTO a VALUES (1)", "COMMIT",
			"INSERT INTO a VALUES (2)"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"/*!40101 SET AUTOCOMMIT=0 */", "COMMIT", "INSERT INTO a VALUES (2)"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"SET autocommit=0", "INSERT INTO a VALUES (1)", "SET @v=@@autocommit", "COMMIT", "SET autocommit=@v",
			"INSERT INTO a VALUES (2)"}, "1: SET autocommit = 0"}, // @v saved it off
		{migration.MySQL, []string{"SET @v = @@session.autocommit", "SET autocommit=0", "INSERT INTO a VALUES (1)", "COMMIT", "SET autocommit=@v",
			"INSERT INTO a VALUES (2)"}, ""},
		{migration.MySQL, []string{"/*M!100100 SET autocommit=0 */", "START TRANSACTION", "INSERT INTO a VALUES (1)", "SET autocommit=1"}, "2: START TRANSACTION"},
		{migration.MySQL, []string{"SET GLOBAL sql_mode = '', autocommit = 0", "INSERT INTO a VALUES (1)"}, ""},
		{migration.MySQL, []string{"SET NAMES utf8mb4, autocommit = 0", "UPDATE a SET id = 1"}, "1: SET autocommit = 0"},
		{migration.MySQL, []string{"START TRANSACTION", "LOCK TABLES a WRITE", "UNLOCK TABLES"}, ""},
		{migration.MySQL, []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", "START TRANSACTION", "COMMIT"}, ""},
		{migration.Postgres, []string{"BEGIN", "INSERT INTO a VALUES (1)", "COMMIT AND CHAIN", "INSERT INTO a VALUES (2)"}, "3: COMMIT AND CHAIN"},
		{migration.Postgres, []string{"BEGIN", "SAVEPOINT s", "ROLLBACK WORK TO SAVEPOINT s"}, "1: BEGIN"},
		{migration.MySQL, []string{"START TRANSACTION", "SAVEPOINT s", "ROLLBACK TRANSACTION TO s", "COMMIT"}, ""},
		{migration.SQLite, []string{"SAVEPOINT s1", "INSERT INTO a VALUES (1)", "SAVEPOINT s2", "RELEASE s2"}, "1: SAVEPOINT"},
		{migration.SQLite, []string{"SAVEPOINT s1", "INSERT INTO a VALUES (1)", "SAVEPOINT s2", "RELEASE SAVEPOINT s1"}, ""},
		{migration.SQLite, []string{"BEGIN", "SAVEPOINT s1", "RELEASE s1"}, "1: BEGIN"},
		{migration.SQLite, []string{"BEGIN", "SAVEPOINT s1", "RELEASE s1", "COMMIT"}, ""},
	}
	for _, c := range cases {
		stmts := make([]migration.Statement, len(c.stmts))
		for i, s := range c.stmts {
			stmts[i] = migration.Statement{SQL: s, Line: i + 1}
		}
		err := checkTxEnd("x.sql", c.d, stmts)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %q: %v, want no error", c.d, c.stmts, err)
		case c.want != "":
			line, what, _ := strings.Cut(c.want, ": ")
			if err == nil || !strings.HasPrefix(err.Error(), "x.sql:"+line+": ") || !strings.Contains(err.Error(), ": "+what+" ") {
				t.Errorf("%s %q: %v, want x.sql:%s: … %s …", c.d, c.stmts, err, line, what)
			}
		}
	}
}

func TestAutocommitSet(t *testing.T) {
	type want struct{ on, ok bool }
	for sql, w := range map[string]want{
		"SET autocommit = 0":                               {false, true},
		"SET SESSION autocommit = OFF":                     {false, true},
		"set @@autocommit := 1":                            {true, true},
		"SET @@session.AUTOCOMMIT='0'":                     {false, true},
		"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0": {false, true},
		"SET AUTOCOMMIT=@OLD_AUTOCOMMIT":                   {false, false}, // saved by no statement before
		"SET autocommit = @@global.autocommit":             {false, false},
		"/*M!100100 SET autocommit=0 */":                   {false, false}, // a comment to MySQL
		"/*!80000 SET autocommit=0 */":                     {false, false}, // MariaDB skips it
		"SET GLOBAL sql_mode = '', autocommit = 0":         {false, false}, // both global
		"/*!40101 SET AUTOCOMMIT=0 */":                     {false, true},
		"SET FOREIGN_KEY_CHECKS=0, autocommit=0":           {false, true},
		"SET autocommit=0, autocommit=1":                   {true, true},
		"SET GLOBAL autocommit = 0":                        {false, false},
		"SET @@global.autocommit = 0":                      {false, false},
		"SET @autocommit = 0":                              {false, false},
		"SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT":                 {false, false},
		"SET /* autocommit = 0 */ x = 1":                   {false, false},
		"INSERT INTO t (autocommit) VALUES (0)":            {false, false},
		"UPDATE t SET autocommit = 0":                      {false, false},
	} {
		var saved map[string]bool
		if on, ok := autocommitSet(sql, true, &saved); on != w.on || ok != w.ok {
			t.Errorf("autocommitSet(%q) = %v, %v; want %v, %v", sql, on, ok, w.on, w.ok)
		}
	}
}
