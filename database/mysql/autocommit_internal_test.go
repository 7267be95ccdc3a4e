package mysql

import (
	"fmt"
	"strings"
	"testing"
)

func TestMentionsAutocommit(t *testing.T) {
	for sql, want := range map[string]bool{
		"SET autocommit = 0":                    true,
		"set @@AutoCommit := 1":                 true,
		"/*!40101 SET AUTOCOMMIT=0 */":          true,
		"INSERT INTO t VALUES ('x')":            false,
		"SET autocommi = 0":                     false,
		"autocommit":                            true,
		"":                                      false,
		"UPDATE t SET a = 1 WHERE b = 'autoco'": false,
	} {
		if got := mentionsAutocommit(sql); got != want {
			t.Errorf("mentionsAutocommit(%q) = %v, want %v", sql, got, want)
		}
	}
}

// Every place and case of the word is found, in text around it of every
// length, as a plain search of the lower-cased text finds it.
func TestMentionsAutocommitAnywhere(t *testing.T) {
	const word = "autocommit"
	for pre := 0; pre < 25; pre++ {
		for post := 0; post < 12; post++ {
			for _, w := range []string{word, "AUTOCOMMIT", "AutoCommit", "autocommiT", "autocommi", "utocommit", "autoc0mmit"} {
				sql := strings.Repeat("xmo", pre)[:pre] + w + strings.Repeat("tcu", post)[:post]
				want := strings.Contains(strings.ToLower(sql), word)
				if got := mentionsAutocommit(sql); got != want {
					t.Errorf("mentionsAutocommit(%q) = %v, want %v", sql, got, want)
				}
			}
		}
	}
}

// A large statement (a multi-row INSERT of a dump) is scanned once per
// run: go test ./database/mysql -run X -bench MentionsAutocommit.
func BenchmarkMentionsAutocommit(b *testing.B) {
	for _, c := range []struct{ name, row string }{
		{"dump", "(%d,'name_%07d','H6Teq7Oue8L50x8gRNxPXcZc6gVOkAfoF2FOr4Sgp1yYOADsjpFAlk2PwdtaSY5AQH0rOh'),\n"},
		{"near misses", "(%d,'name_%07d','aUtOcOmMiXtAmIcOtUaMoCiTuAoMcImTaOuCzzAuToCoMmIqq'),\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString("INSERT INTO big (id, name, payload) VALUES\n")
			for i := 0; sb.Len() < 100<<10; i++ {
				fmt.Fprintf(&sb, c.row, i, i)
			}
			sql := sb.String()
			b.SetBytes(int64(len(sql)))
			for b.Loop() {
				if mentionsAutocommit(sql) {
					b.Fatal("found")
				}
			}
		})
	}
}

// With autocommit maybe off, a statement that commits by itself gets its
// record committed after it: also a DDL statement in an executable
// comment, however long (mysqldump's placeholder view for a wide view).
func TestAutocommitOffAfter(t *testing.T) {
	wide := "/*!50001 CREATE VIEW `v` AS SELECT " + strings.Repeat("NULL AS `column_number_01`, ", 40) + "NULL AS `last` */"
	for sql, want := range map[string]bool{
		"CREATE TABLE t (id int)":                      true,
		"CREATE TEMPORARY TABLE t (id int)":            false,
		"/*!40000 ALTER TABLE `t` DISABLE KEYS */":     true,
		"/*M!100100 ALTER TABLE t ADD COLUMN c int */": true,
		wide:                            true,
		"/*!40101 SET NAMES utf8mb4 */": false,
		"/*M!999999\\- enable the sandbox mode */":                          false,
		"/*M!999999\\- enable the sandbox mode */ \nDROP TABLE IF EXISTS t": true,
		"/*!99999 CREATE TABLE t (id int) */":                               false,
		"INSERT INTO t VALUES (1)":                                          false,
		"GRANT SELECT ON db.* TO 'u'@'%'":                                   true,
		"revoke select on db.* from 'u'@'%'":                                true,
		"INSTALL SONAME 'ha_blackhole'":                                     true,
		"UNINSTALL PLUGIN blackhole":                                        true,
		"FLUSH PRIVILEGES":                                                  true,
		"ANALYZE TABLE t":                                                   true,
		"ANALYZE NO_WRITE_TO_BINLOG TABLE t":                                true,
		"analyze select * from t":                                           false,
		"OPTIMIZE LOCAL TABLE t, u":                                         true,
		"CHECK TABLE t":                                                     true,
		"CHECKSUM TABLE t":                                                  false,
		"REPAIR /* it */ TABLE t":                                           true,
		"CACHE INDEX t IN hot":                                              false,
		"LOAD INDEX INTO CACHE t":                                           false,
		"LOAD DATA INFILE 'x' INTO TABLE t":                                 false,
		"LOCK TABLES t WRITE":                                               false,
		"START TRANSACTION":                                                 false,
		"CHECK VIEW v":                                                      true,
		"REPAIR VIEW v":                                                     true,
		"SET PASSWORD FOR 'u'@'%' = PASSWORD('x')":                          true,
		"SET DEFAULT ROLE r FOR 'u'@'%'":                                    true,
		"SET @x = 1":                                                        false,
		"SET default_storage_engine = InnoDB":                               false,
		"RESET QUERY CACHE":                                                 true,
		"RESET PERSIST":                                                     false,
		"CREATE /*!32302 TEMPORARY */ TABLE tt (p varchar(20) DEFAULT 'C:\\')":                 false,
		"CREATE /*!32302 TEMPORARY */ TABLE tt (i int)":                                        false,
		"DROP /*!40005 TEMPORARY */ TABLE IF EXISTS tt":                                        false,
		"CREATE /*!99999 TEMPORARY */ TABLE tt (i int)":                                        true,
		"CREATE TABLE temporary_files (i int)":                                                 true,
		"CREATE OR REPLACE TEMPORARY TABLE t (i int)":                                          false,
		"CREATE OR REPLACE TABLE t (i int)":                                                    true,
		"DROP TEMPORARY TABLE IF EXISTS t":                                                     false,
		"CREATE TEMPORARY SEQUENCE s":                                                          true,
		"create or replace temporary sequence s start with 5":                                  true,
		"CREATE /*!32302 TEMPORARY */ SEQUENCE s":                                              true,
		"DROP TEMPORARY SEQUENCE IF EXISTS s":                                                  false,
		"CREATE DEFINER=`temporary`@`%` VIEW v AS SELECT 1":                                    true,
		"/*M!100301 SET STATEMENT lock_wait_timeout = 5 FOR */ ALTER TABLE t ADD COLUMN j int": true,
		"/*!100301 SET STATEMENT lock_wait_timeout = 5 FOR */ ALTER TABLE t ADD COLUMN j int":  true,
		"SET STATEMENT max_statement_time=@for FOR SELECT 1":                                   false,
		"SET STATEMENT lock_wait_timeout=5 FOR ALTER TABLE t ADD COLUMN j int":                 true,
		"set statement max_statement_time=10 for optimize table t":                             true,
		"SET STATEMENT max_statement_time=10 FOR SELECT 1":                                     false,
		"SET STATEMENT sql_mode='FOR' FOR INSERT INTO t VALUES (1)":                            false,
		"SET /* x */ STATEMENT a=(SELECT 1 FOR UPDATE) FOR UPDATE t SET id = 2":                false,
		"ANALYZE /*!40000 NO_WRITE_TO_BINLOG */ TABLE t":                                       true,
		"COMMIT":                                          true,
		"commit work":                                     true,
		"COMMIT AND NO CHAIN":                             true,
		"ROLLBACK":                                        true,
		"COMMIT AND CHAIN":                                false,
		"COMMIT WORK\n  AND   CHAIN":                      false,
		"ROLLBACK AND CHAIN":                              false,
		"ROLLBACK TO SAVEPOINT s":                         false,
		"ROLLBACK WORK TO s":                              false,
		"COMMIT /* and chain? no */ AND NO CHAIN":         true,
		"ROLLBACK TO`sp`":                                 false,
		"ROLLBACK TO# c\nsp":                              false,
		"ROLLBACK TO-- c\nsp":                             false,
		"ROLLBACK TO\"sp\"":                               false,
		"COMMIT AND -- c\nCHAIN":                          false,
		"COMMIT AND#c\nCHAIN":                             false,
		"COMMIT NO RELEASE":                               true,
		"ROLLBACK WORK AND NO CHAIN NO RELEASE":           true,
		"COMMIT 'x'":                                      false,
		"ROLLBACK /*M!99999 TO sp */":                     false,
		"COMMIT /*M!99999 AND CHAIN */":                   false,
		"CREATE /*M!99999 TEMPORARY */ TABLE tmp (i int)": false,
	} {
		d := &Driver{autocommit: true}
		if got := d.autocommitOffAfter(sql); got != want {
			t.Errorf("autocommitOffAfter(%.50q) = %v, want %v", sql, got, want)
		}
		d.autocommit = false
		if d.autocommitOffAfter(sql) {
			t.Errorf("autocommitOffAfter(%.50q) with autocommit on = true", sql)
		}
	}
}
