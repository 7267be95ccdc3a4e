package migration

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the splitter's golden files in testdata/split")

var dialects = []Dialect{Postgres, MySQL, SQLite}

// TestSplitGolden splits every testdata/split/<dialect>/*.sql file and
// compares the statements and their lines with the .golden file beside it.
// Run "go test ./migration -update" to rewrite the golden files, then read the diff.
func TestSplitGolden(t *testing.T) {
	for _, d := range dialects {
		files, err := filepath.Glob(filepath.Join("testdata", "split", string(d), "*.sql"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no golden inputs for %s", d)
		}
		for _, file := range files {
			t.Run(string(d)+"/"+filepath.Base(file), func(t *testing.T) {
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				got := renderSplit(d, string(src))
				golden := strings.TrimSuffix(file, ".sql") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./migration -update)", err)
				}
				if got != string(want) {
					t.Errorf("split of %s differs from %s (run with -update and read the diff):\n%s", file, golden, got)
				}
				if err := checkSpans(d, string(src), 1); err != nil {
					t.Error(err)
				}
				if err := checkStream(d, string(src), 1, 2, 3, 7, 64, 4096); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// renderSplit is the golden form of Split's result.
func renderSplit(d Dialect, src string) string {
	stmts, err := Split(d, src, 1)
	if err != nil {
		return fmt.Sprintf("=== error: %v\n", err)
	}
	var b strings.Builder
	for i, s := range stmts {
		fmt.Fprintf(&b, "=== %d, line %d\n%s\n", i+1, s.Line, s.SQL)
	}
	return b.String()
}

func TestSplit(t *testing.T) {
	tests := []struct {
		d    Dialect
		in   string
		want []Statement
	}{
		{Postgres, "", nil},
		{Postgres, "  -- only a comment\n/* and another */\n", nil},
		{Postgres, "select 1", []Statement{{"select 1", 1}}},
		{Postgres, "select 1;select 2;", []Statement{{"select 1", 1}, {"select 2", 1}}},
		{Postgres, "\n\n  select 1 -- trailing\n ;\n\n select /* kept */ 2\n;", []Statement{{"select 1", 3}, {"select /* kept */ 2", 6}}},
		{Postgres, "select 'a;b', \"c;\"\"d\";", []Statement{{"select 'a;b', \"c;\"\"d\"", 1}}},
		{Postgres, "select 'it''s;'; select E'\\';';", []Statement{{"select 'it''s;'", 1}, {"select E'\\';'", 1}}},
		{Postgres, `select '\'; select 2;`, []Statement{{`select '\'`, 1}, {"select 2", 1}}},
		{Postgres, "select a$1, $1, $$x;y$$, $t$a$$;$t$;", []Statement{{"select a$1, $1, $$x;y$$, $t$a$$;$t$", 1}}},
		{Postgres, "/* a /* nested; */ still; */ select 1;", []Statement{{"select 1", 1}}},
		{Postgres, "create rule r as on insert to t do also (insert into a values (1); delete from b);select 1;",
			[]Statement{{"create rule r as on insert to t do also (insert into a values (1); delete from b)", 1}, {"select 1", 1}}},
		{Postgres, "create function f() returns int language sql\nbegin atomic\n select case when true then 1 end;\n select 2;\nend;\nselect 3;",
			[]Statement{{"create function f() returns int language sql\nbegin atomic\n select case when true then 1 end;\n select 2;\nend", 1}, {"select 3", 6}}},
		{Postgres, "begin; commit;", []Statement{{"begin", 1}, {"commit", 1}}},
		// A keyword after a dot is a column: t.end does not close a CASE.
		{Postgres, "select case when t.end then 1 end from t; select 2;", []Statement{{"select case when t.end then 1 end from t", 1}, {"select 2", 1}}},
		{MySQL, "CREATE TRIGGER p_bi BEFORE INSERT ON p FOR EACH ROW\nBEGIN\n  SET NEW.end = NOW();\n  SET NEW.`begin` = NEW.begin;\nEND;\nSELECT 1;",
			[]Statement{{"CREATE TRIGGER p_bi BEFORE INSERT ON p FOR EACH ROW\nBEGIN\n  SET NEW.end = NOW();\n  SET NEW.`begin` = NEW.begin;\nEND", 1}, {"SELECT 1", 6}}},
		{MySQL, "CREATE DEFINER=app@db.example.com TRIGGER t BEFORE INSERT ON p FOR EACH ROW BEGIN SET NEW.a = 1; END; SELECT 1;",
			[]Statement{{"CREATE DEFINER=app@db.example.com TRIGGER t BEFORE INSERT ON p FOR EACH ROW BEGIN SET NEW.a = 1; END", 1}, {"SELECT 1", 1}}},
		// A bare column named end or begin in a body: compared or assigned, never a block's.
		{MySQL, "CREATE PROCEDURE p_e()\nBEGIN\n  UPDATE ev SET end = NOW() WHERE begin IS NULL AND end<NOW();\n  IF 1 = 1 THEN\n    UPDATE ev SET note = 2;\n  END IF;\nEND;\nSELECT 2;",
			[]Statement{{"CREATE PROCEDURE p_e()\nBEGIN\n  UPDATE ev SET end = NOW() WHERE begin IS NULL AND end<NOW();\n  IF 1 = 1 THEN\n    UPDATE ev SET note = 2;\n  END IF;\nEND", 1}, {"SELECT 2", 8}}},
		{SQLite, "CREATE TRIGGER t_au AFTER UPDATE ON ev BEGIN UPDATE ev SET end = 1 WHERE end IS NULL; END; SELECT 3;",
			[]Statement{{"CREATE TRIGGER t_au AFTER UPDATE ON ev BEGIN UPDATE ev SET end = 1 WHERE end IS NULL; END", 1}, {"SELECT 3", 1}}},
		{MySQL, "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC\nBEGIN\n  RETURN CASE WHEN x > 0 THEN 1 END;\nEND;\nSELECT 4;",
			[]Statement{{"CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC\nBEGIN\n  RETURN CASE WHEN x > 0 THEN 1 END;\nEND", 1}, {"SELECT 4", 5}}},
		{SQLite, "CREATE TRIGGER p_ai AFTER INSERT ON p BEGIN UPDATE p SET x = NEW.end WHERE id = NEW.id; END; SELECT 1;",
			[]Statement{{"CREATE TRIGGER p_ai AFTER INSERT ON p BEGIN UPDATE p SET x = NEW.end WHERE id = NEW.id; END", 1}, {"SELECT 1", 1}}},
		{Postgres, "select 1\r\n;\r\nselect 2;", []Statement{{"select 1", 1}, {"select 2", 3}}},
		{MySQL, "select 'a\\';b', \"c\\\";d\", `e;f`; # c;\nselect 1;", []Statement{{"select 'a\\';b', \"c\\\";d\", `e;f`", 1}, {"select 1", 2}}},
		{MySQL, "select 1--2;\nselect 3 -- c;\n;", []Statement{{"select 1--2", 1}, {"select 3", 2}}},
		// A column named begin or end in a body: after an operator, "(",
		// ",", or SELECT, WHERE, AND, BY, RETURN, DISTINCT it is a value,
		// never a block.
		{MySQL, "CREATE TABLE x (id INT PRIMARY KEY, begin INT);\nCREATE PROCEDURE p() SELECT begin FROM x;\nCREATE TABLE y (a INT);",
			[]Statement{{"CREATE TABLE x (id INT PRIMARY KEY, begin INT)", 1}, {"CREATE PROCEDURE p() SELECT begin FROM x", 2}, {"CREATE TABLE y (a INT)", 3}}},
		{MySQL, "CREATE PROCEDURE p() BEGIN SELECT a, begin, end FROM x WHERE id = begin AND begin > 0 ORDER BY end; END;\nSELECT 1;",
			[]Statement{{"CREATE PROCEDURE p() BEGIN SELECT a, begin, end FROM x WHERE id = begin AND begin > 0 ORDER BY end; END", 1}, {"SELECT 1", 2}}},
		{MySQL, "CREATE FUNCTION f() RETURNS INT RETURN (SELECT MAX(end) FROM x); SELECT 1;",
			[]Statement{{"CREATE FUNCTION f() RETURNS INT RETURN (SELECT MAX(end) FROM x)", 1}, {"SELECT 1", 1}}},
		{MySQL, "CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END; SELECT 1; END; SELECT 2;",
			[]Statement{{"CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END; SELECT 1; END", 1}, {"SELECT 2", 1}}},
		{SQLite, "CREATE TRIGGER tx AFTER INSERT ON x BEGIN\n  UPDATE x SET end = begin + 1 WHERE id = new.id;\nEND;\nSELECT 1;",
			[]Statement{{"CREATE TRIGGER tx AFTER INSERT ON x BEGIN\n  UPDATE x SET end = begin + 1 WHERE id = new.id;\nEND", 1}, {"SELECT 1", 4}}},
		{SQLite, "CREATE TRIGGER t2 AFTER INSERT ON x WHEN new.id = 1 BEGIN SELECT begin, (end) FROM x; END; SELECT 2;",
			[]Statement{{"CREATE TRIGGER t2 AFTER INSERT ON x WHEN new.id = 1 BEGIN SELECT begin, (end) FROM x; END", 1}, {"SELECT 2", 1}}},
		// Both words in one body: a column begin followed by AND, and
		// end after any word that wants a value, THEN or ELSE.
		{MySQL, "CREATE PROCEDURE p6()\nBEGIN\n  SELECT 1 FROM t WHERE x BETWEEN begin AND end;\nEND;\nINSERT INTO log VALUES (1);",
			[]Statement{{"CREATE PROCEDURE p6()\nBEGIN\n  SELECT 1 FROM t WHERE x BETWEEN begin AND end;\nEND", 1}, {"INSERT INTO log VALUES (1)", 5}}},
		{MySQL, "CREATE PROCEDURE p() BEGIN SELECT DISTINCT end FROM t; SELECT CASE WHEN x > 0 THEN end ELSE begin + 1 END FROM t; " +
			"SELECT CASE x WHEN end THEN 1 ELSE end END FROM t WHERE x OR end OR NOT end AND x LIKE end; SELECT 1 INTO end; END; SELECT 2;",
			[]Statement{{"CREATE PROCEDURE p() BEGIN SELECT DISTINCT end FROM t; SELECT CASE WHEN x > 0 THEN end ELSE begin + 1 END FROM t; " +
				"SELECT CASE x WHEN end THEN 1 ELSE end END FROM t WHERE x OR end OR NOT end AND x LIKE end; SELECT 1 INTO end; END", 1}, {"SELECT 2", 1}}},
		{MySQL, "CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END; IF 1 THEN BEGIN SELECT 1; END; ELSE BEGIN -- c\nSELECT 2; END; END IF; END; SELECT 3;",
			[]Statement{{"CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END; IF 1 THEN BEGIN SELECT 1; END; ELSE BEGIN -- c\nSELECT 2; END; END IF; END", 1}, {"SELECT 3", 2}}},
		// DESC t is a statement; a table named by or like before an SQLite
		// trigger's BEGIN; begin and end as parameter, variable and table.
		{MySQL, "CREATE PROCEDURE show_t() BEGIN DESC t; END; CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO BEGIN DESC t; END; SELECT 1;",
			[]Statement{{"CREATE PROCEDURE show_t() BEGIN DESC t; END", 1}, {"CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO BEGIN DESC t; END", 1}, {"SELECT 1", 1}}},
		{SQLite, "CREATE TRIGGER tr AFTER INSERT ON by BEGIN INSERT INTO log VALUES ('a'); INSERT INTO log VALUES ('b'); END;\nCREATE TRIGGER tl AFTER INSERT ON like BEGIN SELECT 1; END; SELECT 2;",
			[]Statement{{"CREATE TRIGGER tr AFTER INSERT ON by BEGIN INSERT INTO log VALUES ('a'); INSERT INTO log VALUES ('b'); END", 1},
				{"CREATE TRIGGER tl AFTER INSERT ON like BEGIN SELECT 1; END", 2}, {"SELECT 2", 2}}},
		{MySQL, "CREATE PROCEDURE p(IN begin INT, OUT end INT) BEGIN DECLARE begin2 INT; UPDATE begin SET x = 1; DELETE FROM end WHERE x = 0; END; SELECT 1;",
			[]Statement{{"CREATE PROCEDURE p(IN begin INT, OUT end INT) BEGIN DECLARE begin2 INT; UPDATE begin SET x = 1; DELETE FROM end WHERE x = 0; END", 1}, {"SELECT 1", 1}}},
		// SQLite names columns out, like, by …; {d '…'} ends a value.
		{SQLite, "CREATE TRIGGER sl AFTER INSERT ON shifts BEGIN\n  INSERT INTO log SELECT id, CASE WHEN out IS NULL THEN \"in\" ELSE out END FROM shifts WHERE id = new.id;\nEND;\nSELECT 2;",
			[]Statement{{"CREATE TRIGGER sl AFTER INSERT ON shifts BEGIN\n  INSERT INTO log SELECT id, CASE WHEN out IS NULL THEN \"in\" ELSE out END FROM shifts WHERE id = new.id;\nEND", 1}, {"SELECT 2", 4}}},
		{SQLite, "CREATE TRIGGER sb AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN like ELSE by END, CASE WHEN 1 THEN declare ELSE return END FROM t; END; SELECT 2;",
			[]Statement{{"CREATE TRIGGER sb AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN like ELSE by END, CASE WHEN 1 THEN declare ELSE return END FROM t; END", 1}, {"SELECT 2", 1}}},
		{MySQL, "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.d = CASE WHEN NEW.id > 0 THEN {d '2024-01-01'} ELSE {d '2024-12-31'} END;\nCREATE TABLE u (id INT);",
			[]Statement{{"CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.d = CASE WHEN NEW.id > 0 THEN {d '2024-01-01'} ELSE {d '2024-12-31'} END", 1}, {"CREATE TABLE u (id INT)", 2}}},
		// begin and end as aliases and names in one statement, in either
		// order; a CASE's END compared or aliased.
		{MySQL, "CREATE PROCEDURE p() BEGIN SELECT 1 AS begin, 2 AS end; SELECT MIN(x) begin, MAX(y) end FROM a AS begin JOIN b AS end ON begin.id = end.id; " +
			"SELECT CASE end WHEN 1 THEN 'a' END, begin FROM t; IF CASE WHEN x > 0 THEN 1 ELSE 0 END = 1 THEN SELECT 1; END IF; END; SELECT 2;",
			[]Statement{{"CREATE PROCEDURE p() BEGIN SELECT 1 AS begin, 2 AS end; SELECT MIN(x) begin, MAX(y) end FROM a AS begin JOIN b AS end ON begin.id = end.id; " +
				"SELECT CASE end WHEN 1 THEN 'a' END, begin FROM t; IF CASE WHEN x > 0 THEN 1 ELSE 0 END = 1 THEN SELECT 1; END IF; END", 1}, {"SELECT 2", 1}}},
		{SQLite, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT a FROM t ORDER BY begin DESC, end; SELECT a FROM t ORDER BY end, begin; SELECT 1 AS begin, 2 AS end; END;\nCREATE TABLE u (x);",
			[]Statement{{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT a FROM t ORDER BY begin DESC, end; SELECT a FROM t ORDER BY end, begin; SELECT 1 AS begin, 2 AS end; END", 1}, {"CREATE TABLE u (x)", 2}}},
		// end compared inside a CASE after SET, ON, MOD; more than 64
		// nested blocks; MariaDB's Oracle mode: AS BEGIN.
		{MySQL, "CREATE PROCEDURE p(x INT)\nBEGIN\n  CASE x\n    WHEN 1 THEN UPDATE t SET end = 5;\n    ELSE SELECT CASE WHEN EXISTS (SELECT 1 FROM t JOIN t AS t2 ON end = t2.a) THEN a MOD end END FROM t;\n  END CASE;\nEND;\nCREATE TABLE u (x INT);",
			[]Statement{{"CREATE PROCEDURE p(x INT)\nBEGIN\n  CASE x\n    WHEN 1 THEN UPDATE t SET end = 5;\n    ELSE SELECT CASE WHEN EXISTS (SELECT 1 FROM t JOIN t AS t2 ON end = t2.a) THEN a MOD end END FROM t;\n  END CASE;\nEND", 1}, {"CREATE TABLE u (x INT)", 8}}},
		{MySQL, "CREATE PROCEDURE p() " + strings.Repeat("BEGIN ", 66) + "SELECT CASE WHEN 1 THEN 1 END AS v, CASE WHEN 1 THEN 2 END, 3; " + strings.Repeat("END; ", 65) + "END; SELECT 2;",
			[]Statement{{"CREATE PROCEDURE p() " + strings.Repeat("BEGIN ", 66) + "SELECT CASE WHEN 1 THEN 1 END AS v, CASE WHEN 1 THEN 2 END, 3; " + strings.Repeat("END; ", 65) + "END", 1}, {"SELECT 2", 1}}},
		{MySQL, "SET sql_mode = ORACLE;\nCREATE PROCEDURE p AS BEGIN SELECT 1; SELECT 2; END;\nCREATE TABLE u (x INT);",
			[]Statement{{"SET sql_mode = ORACLE", 1}, {"CREATE PROCEDURE p AS BEGIN SELECT 1; SELECT 2; END", 2}, {"CREATE TABLE u (x INT)", 3}}},
		// What leaves the session's sql_mode as it is keeps backslash escapes.
		{MySQL, "SET GLOBAL sql_mode = 'NO_BACKSLASH_ESCAPES';\nSET STATEMENT sql_mode = 'NO_BACKSLASH_ESCAPES' FOR SELECT 1;\n" +
			"SET @note = 'run with sql_mode=\"NO_BACKSLASH_ESCAPES\" please', @sql_mode = 'NO_BACKSLASH_ESCAPES', @@global.sql_mode = 'NO_BACKSLASH_ESCAPES';\nINSERT INTO t VALUES ('it\\'s; ok');",
			[]Statement{{"SET GLOBAL sql_mode = 'NO_BACKSLASH_ESCAPES'", 1}, {"SET STATEMENT sql_mode = 'NO_BACKSLASH_ESCAPES' FOR SELECT 1", 2},
				{"SET @note = 'run with sql_mode=\"NO_BACKSLASH_ESCAPES\" please', @sql_mode = 'NO_BACKSLASH_ESCAPES', @@global.sql_mode = 'NO_BACKSLASH_ESCAPES'", 3},
				{"INSERT INTO t VALUES ('it\\'s; ok')", 4}}},
		{SQLite, "CREATE TRIGGER t3 AFTER INSERT ON x BEGIN SELECT 1 FROM x WHERE id BETWEEN begin AND end; END; SELECT 2;",
			[]Statement{{"CREATE TRIGGER t3 AFTER INSERT ON x BEGIN SELECT 1 FROM x WHERE id BETWEEN begin AND end; END", 1}, {"SELECT 2", 1}}},
		// NO_BACKSLASH_ESCAPES, set as mysqldump sets it before a routine
		// created under it: a backslash ends no string until sql_mode is
		// set back.
		{MySQL, "SET sql_mode = 'NO_BACKSLASH_ESCAPES';\nCREATE PROCEDURE p_path() SELECT 'C:\\' AS p;\nSET sql_mode = DEFAULT;\nSELECT 'a\\';b';",
			[]Statement{{"SET sql_mode = 'NO_BACKSLASH_ESCAPES'", 1}, {"CREATE PROCEDURE p_path() SELECT 'C:\\' AS p", 2}, {"SET sql_mode = DEFAULT", 3}, {"SELECT 'a\\';b'", 4}}},
		{MySQL, "/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES' */ ;\nINSERT INTO t VALUES ('C:\\');\n-- don't worry\nINSERT INTO t VALUES ('ok');\n/*!50003 SET sql_mode = @saved_sql_mode */ ;\nSELECT 'x\\'y';",
			[]Statement{{"/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES' */", 1}, {"INSERT INTO t VALUES ('C:\\')", 2},
				{"INSERT INTO t VALUES ('ok')", 4}, {"/*!50003 SET sql_mode = @saved_sql_mode */", 5}, {"SELECT 'x\\'y'", 6}}},
		{MySQL, "/*M!100000 SET sql_mode='NO_BACKSLASH_ESCAPES' */;\nSELECT 'C:\\';",
			[]Statement{{"/*M!100000 SET sql_mode='NO_BACKSLASH_ESCAPES' */", 1}, {"SELECT 'C:\\'", 2}}},
		{MySQL, "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\nSELECT 'a\\';b';",
			[]Statement{{"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */", 1}, {"SELECT 'a\\';b'", 2}}},
		// drizzle-kit: "--" where a statement would begin is a comment to the mysql client.
		{MySQL, "CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);--> statement-breakpoint\nCREATE TABLE c (id int);\n",
			[]Statement{{"CREATE TABLE a (id int)", 1}, {"CREATE TABLE b (id int)", 3}, {"CREATE TABLE c (id int)", 4}}},
		{MySQL, "/*!40101 SET NAMES utf8 */;\n/* plain */;", []Statement{{"/*!40101 SET NAMES utf8 */", 1}}},
		{MySQL, "select /*+ BKA(t) */ 1; /*M!100101 SET x=1 */;", []Statement{{"select /*+ BKA(t) */ 1", 1}, {"/*M!100101 SET x=1 */", 1}}},
		{MySQL, "DELIMITER $$\ncreate procedure p() begin select 1; end$$\nDELIMITER ;\nselect 2;",
			[]Statement{{"create procedure p() begin select 1; end", 2}, {"select 2", 4}}},
		{MySQL, "create table t (event int, `begin` int); select 1;", []Statement{{"create table t (event int, `begin` int)", 1}, {"select 1", 1}}},
		{MySQL, "create trigger t before insert on x for each row set new.a = if(new.a > 0, 1, 2); select 1;",
			[]Statement{{"create trigger t before insert on x for each row set new.a = if(new.a > 0, 1, 2)", 1}, {"select 1", 1}}},
		{MySQL, "create trigger t before insert on x for each row if new.a < 0 then set new.a = 0; end if; select 1;",
			[]Statement{{"create trigger t before insert on x for each row if new.a < 0 then set new.a = 0; end if", 1}, {"select 1", 1}}},
		{MySQL, "BEGIN NOT ATOMIC\n  DECLARE x INT DEFAULT 1;\n  IF x THEN INSERT INTO a VALUES (x); END IF;\n  INSERT INTO b VALUES (x);\nEND;\nselect 1;",
			[]Statement{{"BEGIN NOT ATOMIC\n  DECLARE x INT DEFAULT 1;\n  IF x THEN INSERT INTO a VALUES (x); END IF;\n  INSERT INTO b VALUES (x);\nEND", 1}, {"select 1", 6}}},
		{MySQL, "begin; insert into a values (1); commit; begin work; rollback;",
			[]Statement{{"begin", 1}, {"insert into a values (1)", 1}, {"commit", 1}, {"begin work", 1}, {"rollback", 1}}},
		{MySQL, "alter definer=`a`@`%` event e do begin insert into a values (1); delete from b; end; alter table t add column event int; select 1;",
			[]Statement{{"alter definer=`a`@`%` event e do begin insert into a values (1); delete from b; end", 1}, {"alter table t add column event int", 1}, {"select 1", 1}}},
		{MySQL, "create procedure p(x int) if x > 0 then select 1; else select 2; end if; select 3;",
			[]Statement{{"create procedure p(x int) if x > 0 then select 1; else select 2; end if", 1}, {"select 3", 1}}},
		{MySQL, "create procedure p(x int) deterministic reads sql data if x > 0 then select 1; end if; select 3;",
			[]Statement{{"create procedure p(x int) deterministic reads sql data if x > 0 then select 1; end if", 1}, {"select 3", 1}}},
		{MySQL, "create procedure p() sql security invoker while 0 do select 1; end while; select data from t; select 3;",
			[]Statement{{"create procedure p() sql security invoker while 0 do select 1; end while", 1}, {"select data from t", 1}, {"select 3", 1}}},
		{MySQL, "create procedure p() select * from t where id in (1, 2) for update; select 3;",
			[]Statement{{"create procedure p() select * from t where id in (1, 2) for update", 1}, {"select 3", 1}}},
		{MySQL, "create function f(a int) returns int return if(a > 0, 1, 2); select 3;",
			[]Statement{{"create function f(a int) returns int return if(a > 0, 1, 2)", 1}, {"select 3", 1}}},
		{SQLite, "create trigger t after insert on a begin update b set c = case when 1 then 2 end; delete from d; end; select [x;y], `z;`;",
			[]Statement{{"create trigger t after insert on a begin update b set c = case when 1 then 2 end; delete from d; end", 1}, {"select [x;y], `z;`", 1}}},
		{SQLite, "begin; end;", []Statement{{"begin", 1}, {"end", 1}}},
	}
	for _, tt := range tests {
		got, err := Split(tt.d, tt.in, 1)
		if err != nil {
			t.Errorf("Split(%s, %q): %v", tt.d, tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Split(%s, %q)\n got %+v\nwant %+v", tt.d, tt.in, got, tt.want)
		}
		if err := checkSpans(tt.d, tt.in, 1); err != nil {
			t.Error(err)
		}
	}
}

func TestSplitUnterminated(t *testing.T) {
	tests := []struct {
		d    Dialect
		in   string
		line int
	}{
		{Postgres, "select 1;\n\nselect 'abc", 3},
		{Postgres, "select 1;\nselect E'a\\'", 2},
		{Postgres, "\nselect \"abc", 2},
		{Postgres, "select $$abc\n\n", 1},
		{Postgres, "select $t$abc $$ $T$", 1},
		{Postgres, "\n/* a /* b */", 2},
		{MySQL, "select 'a\\'", 1},
		{MySQL, "select `a", 1},
		{MySQL, "\n\n/*!40101 SET", 3},
		{SQLite, "select [a", 1},
		{SQLite, "/* x", 1},
	}
	for _, tt := range tests {
		_, err := Split(tt.d, tt.in, 1)
		var fe *FileError
		if !errors.Is(err, ErrUnterminated) || !errors.As(err, &fe) || fe.Line != tt.line {
			t.Errorf("Split(%s, %q) = %v, want ErrUnterminated at line %d", tt.d, tt.in, err, tt.line)
		}
	}
	if _, err := Split("oracle", "select 1", 1); err == nil {
		t.Error("Split accepted an unknown dialect")
	}
}

func TestScriptStatementsError(t *testing.T) {
	s := &Script{File: "0001_a.up.sql", Segments: []Segment{{Text: "select 1;\n'oops", Line: 3}}}
	_, err := s.Statements(Postgres)
	want := "0001_a.up.sql:4: unterminated string literal"
	if err == nil || err.Error() != want {
		t.Errorf("Statements: %v, want %s", err, want)
	}
}

func TestTrimStatement(t *testing.T) {
	tests := []struct {
		in   string
		want Statement
		ok   bool
	}{
		{"\n-- lead\ncreate function f() as $$ begin; end $$ language plpgsql;\n-- trailing\n", Statement{"create function f() as $$ begin; end $$ language plpgsql", 3}, true},
		{"select 1; select 2 ;  ", Statement{"select 1; select 2", 1}, true},
		{"\n -- nothing\n", Statement{}, false},
		{";", Statement{}, false},
		{"\n  select 'unterminated\n", Statement{"select 'unterminated", 2}, true},
	}
	for _, tt := range tests {
		got, ok := trimStatement(tt.in, 1, Postgres)
		if got != tt.want || ok != tt.ok {
			t.Errorf("trimStatement(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// checkSpans checks the splitter's central property on text: the spans are in
// order and do not overlap, each statement's line is right, and everything
// outside the spans is whitespace, comments, ";" separators, and for MySQL
// DELIMITER lines and custom delimiters. This gap check is written apart from
// the scanner so that the two can disagree.
func checkSpans(d Dialect, text string, startLine int) error {
	spans, err := splitSpans(d, text, startLine)
	if err != nil {
		if !errors.Is(err, ErrUnterminated) {
			return fmt.Errorf("%s: unexpected error %v", d, err)
		}
		return nil
	}
	stmts, err := Split(d, text, startLine)
	if errors.Is(err, ErrUnsupported) {
		// Refused: by a psql meta-command or a statement Runway cannot run.
		for _, sp := range spans {
			if sp.meta || checkStatement(d, Statement{SQL: text[sp.start:sp.end], Line: sp.line}) != nil {
				return nil
			}
		}
		return fmt.Errorf("%s: Split refused what no span explains: %v", d, err)
	}
	if err != nil || len(stmts) != len(spans) {
		return fmt.Errorf("%s: Split and splitSpans disagree: %v", d, err)
	}
	g := gapChecker{d: d, text: text}
	prev := 0
	for i, sp := range spans {
		if sp.start < prev || sp.end <= sp.start || sp.end > len(text) {
			return fmt.Errorf("%s: span %d [%d,%d) after %d: out of order, empty or overlapping in %q", d, i, sp.start, sp.end, prev, text)
		}
		if err := g.check(prev, sp.start); err != nil {
			return fmt.Errorf("%s: before statement %d: %v in %q", d, i+1, err, text)
		}
		if want := startLine + strings.Count(text[:sp.start], "\n"); sp.line != want {
			return fmt.Errorf("%s: statement %d on line %d, want %d in %q", d, i+1, sp.line, want, text)
		}
		sql := text[sp.start:sp.end]
		if stmts[i].SQL != sql || stmts[i].Line != sp.line {
			return fmt.Errorf("%s: statement %d is %q, span says %q", d, i+1, stmts[i].SQL, sql)
		}
		if strings.Trim(sql, " \t\r\n\f\v") != sql {
			return fmt.Errorf("%s: statement %d %q is not trimmed", d, i+1, sql)
		}
		prev = sp.end
	}
	if err := g.check(prev, len(text)); err != nil {
		return fmt.Errorf("%s: after the last statement: %v in %q", d, err, text)
	}
	return nil
}

// gapChecker recognises the text allowed between statements.
type gapChecker struct {
	d     Dialect
	text  string
	delim string
}

func (g *gapChecker) check(from, to int) error {
	t := g.text
	for i := from; i < to; {
		c := t[i]
		rest := t[i:to]
		switch {
		case g.delim != "" && strings.HasPrefix(rest, g.delim):
			i += len(g.delim)
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			i++
		case c == ';' && g.delim == "":
			i++
		case c == '\\' && g.d == Postgres:
			line, _, _ := strings.Cut(rest, "\n")
			if name := metaName(line); name != "restrict" && name != "unrestrict" {
				return fmt.Errorf("psql meta-command %q at %d dropped", line, i)
			}
			i += len(line)
		case strings.HasPrefix(rest, "--"), c == '#' && g.d == MySQL:
			if k := strings.IndexByte(rest, '\n'); k >= 0 {
				i += k
			} else {
				i = to
			}
		case strings.HasPrefix(rest, "/*"):
			if g.d == MySQL && (strings.HasPrefix(rest, "/*!") || strings.HasPrefix(rest, "/*+") || strings.HasPrefix(rest, "/*M!")) {
				return fmt.Errorf("executable comment at %d dropped", i)
			}
			n := commentLen(rest, g.d == Postgres)
			if n < 0 {
				return fmt.Errorf("unterminated comment at %d", i)
			}
			i += n
		case g.d == MySQL && len(rest) > 10 && strings.EqualFold(rest[:9], "delimiter") && (rest[9] == ' ' || rest[9] == '\t'):
			line := rest
			if k := strings.IndexByte(line, '\n'); k >= 0 {
				line = line[:k]
			}
			arg := strings.TrimLeft(line[9:], " \t")
			if k := strings.IndexFunc(arg, func(r rune) bool { return r <= ' ' }); k >= 0 {
				arg = arg[:k]
			}
			if arg == "" {
				return fmt.Errorf("DELIMITER without argument at %d", i)
			}
			if strings.TrimRight(g.text[strings.LastIndexByte(g.text[:i], '\n')+1:i], " \t\r") != "" {
				return fmt.Errorf("DELIMITER not at line start at %d", i)
			}
			g.delim = arg
			if g.delim == ";" {
				g.delim = ""
			}
			i += len(line)
		default:
			return fmt.Errorf("statement text %q at %d dropped", rest[:min(len(rest), 20)], i)
		}
	}
	return nil
}

// checkStream compares splitStream, reading text in chunks of each size given, with
// Split of the whole text: the same statements on the same lines, or an
// error on the same line.
func checkStream(d Dialect, text string, chunks ...int) error {
	want, wantErr := Split(d, text, 1)
	for _, chunk := range chunks {
		var got []Statement
		var gotErr error
		splitStream(d, strings.NewReader(text), 1, chunk, nil, func(st Statement, err error) bool {
			if err != nil {
				gotErr = err
				return false
			}
			got = append(got, st)
			return true
		})
		if (wantErr == nil) != (gotErr == nil) {
			return fmt.Errorf("chunks of %d: streamed error %v, whole-text error %v", chunk, gotErr, wantErr)
		}
		if wantErr != nil {
			var we, ge *FileError
			if errors.As(wantErr, &we) && errors.As(gotErr, &ge) && we.Line != ge.Line {
				return fmt.Errorf("chunks of %d: streamed error on line %d (%v), whole-text on line %d (%v)", chunk, ge.Line, gotErr, we.Line, wantErr)
			}
			continue
		}
		if len(got) != len(want) {
			return fmt.Errorf("chunks of %d: %d statements streamed, %d from the whole text", chunk, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				return fmt.Errorf("chunks of %d: statement %d streamed as %q (line %d), whole-text %q (line %d)", chunk, i+1, got[i].SQL, got[i].Line, want[i].SQL, want[i].Line)
			}
		}
	}
	return nil
}

// commentLen is the length of the block comment at the start of s, or -1.
func commentLen(s string, nested bool) int {
	if !nested {
		if k := strings.Index(s[2:], "*/"); k >= 0 {
			return k + 4
		}
		return -1
	}
	depth := 0
	for i := 0; i+1 < len(s); {
		switch s[i : i+2] {
		case "/*":
			depth++
			i += 2
		case "*/":
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

func fuzzSplit(f *testing.F, d Dialect) {
	files, _ := filepath.Glob(filepath.Join("testdata", "split", string(d), "*.sql"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{"select 1;", "$$;$$", "/*/**/*/;", "E'\\'';", "DELIMITER //\nx//\nDELIMITER ;\n", "[a];`b`", "--\n;#\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if err := checkSpans(d, text, 1); err != nil {
			t.Fatal(err)
		}
		if err := checkStream(d, text, 5, 64); err != nil {
			t.Fatal(err)
		}
		_, _ = trimStatement(text, 1, d)
	})
}

func FuzzSplitPostgres(f *testing.F) { fuzzSplit(f, Postgres) }
func FuzzSplitMySQL(f *testing.F)    { fuzzSplit(f, MySQL) }
func FuzzSplitSQLite(f *testing.F)   { fuzzSplit(f, SQLite) }

// largeInsertScript is about size bytes of multi-row INSERTs with strings,
// comments and dollar quotes, like a data migration or a dump.
func largeInsertScript(size int) string {
	var b strings.Builder
	b.Grow(size + 1024)
	b.WriteString("-- generated data\nCREATE TABLE users (id bigint PRIMARY KEY, name text, bio text, score numeric);\n")
	for i := 0; b.Len() < size; i++ {
		b.WriteString("INSERT INTO users (id, name, bio, score) VALUES\n")
		for j := 0; j < 20; j++ {
			if j > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, "  (%d, 'user %d', E'it\\'s a \"bio\"; line\\n', %d.%02d) /* row */", i*20+j, j, j*7, j)
		}
		b.WriteString(";\n")
		if i%100 == 0 {
			b.WriteString("DO $body$ BEGIN PERFORM 1; END $body$;\n")
		}
	}
	return b.String()
}

func BenchmarkSplitPostgresLarge(b *testing.B) {
	text := largeInsertScript(5 << 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(Postgres, text, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// COPY … FROM STDIN (pg_dump's data blocks) is refused with its line, read
// whole or streamed; COPY from a server file and other dialects are not.
func TestCopyFromStdinIsRefused(t *testing.T) {
	text := "CREATE TABLE c (id int, name text);\n\ncopy public.c (id, name) FROM stdin;\n1\tfoo;bar\n\\.\n"
	_, err := Split(Postgres, text, 1)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "COPY … FROM STDIN") {
		t.Fatalf("Split: %v, want ErrUnsupported at line 3", err)
	}
	old := LargeFile
	LargeFile = 16
	t.Cleanup(func() { LargeFile = old })
	ms, err := Load(fstest.MapFS{"0001_c.up.sql": &fstest.MapFile{Data: []byte(text)}})
	if err != nil || !ms[0].Up.Streamed() {
		t.Fatalf("Load: %v (streamed: %v)", err, err == nil && ms[0].Up.Streamed())
	}
	var got error
	for _, err := range ms[0].Up.StatementSeq(Postgres) {
		if err != nil {
			got = err
			break
		}
	}
	if !errors.As(got, &fe) || fe.Line != 3 || fe.File != "0001_c.up.sql" {
		t.Errorf("StatementSeq: %v, want the file and line 3", got)
	}
	for _, ok := range []string{"COPY c FROM '/var/lib/data.csv' WITH (FORMAT csv);", "COPY c TO STDOUT;"} {
		if _, err := Split(Postgres, ok, 1); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if _, err := Split(MySQL, "COPY t FROM stdin;", 1); err != nil {
		t.Errorf("MySQL: %v", err)
	}
}

// psql meta-commands: pg_dump's \restrict and \unrestrict (written since
// PostgreSQL 17.6, 16.10, 15.14, 14.19 and 13.22) are skipped, so that a
// schema dump is a migration as it is; any other is refused with its line,
// read whole or streamed. A backslash inside a statement is the server's.
func TestPsqlMetaCommands(t *testing.T) {
	dump := "--\n-- PostgreSQL database dump\n--\n\n\\restrict Ab12Cd\n\nSET lock_timeout = 0;\nCREATE TABLE a (id int);\n\n\\unrestrict Ab12Cd\n\n"
	refused := "CREATE TABLE a (id int);\n  \\connect other\nCREATE TABLE b (id int);\n"
	emptyCopy := "CREATE TABLE e (id int);\nCOPY public.e (id) FROM stdin;\n\\.\n"
	inside := "SELECT '\\restrict x', E'\\n';\nCREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$\n\\connect\n$$;\n"
	check := func(t *testing.T, split func(string) ([]Statement, error)) {
		t.Helper()
		sts, err := split(dump)
		if err != nil || len(sts) != 2 || sts[0].Line != 7 || sts[1].Line != 8 || sts[1].SQL != "CREATE TABLE a (id int)" {
			t.Errorf("a dump between \\restrict and \\unrestrict: %+v, %v; want its 2 statements on lines 7 and 8", sts, err)
		}
		_, err = split(refused)
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != 2 || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "\\connect is a psql meta-command") {
			t.Errorf("\\connect: %v; want ErrUnsupported naming it at line 2", err)
		}
		if _, err = split("SELECT 1\n  AS x \\gset\nSELECT 2;\n"); !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "\\gset is a psql meta-command") {
			t.Errorf("\\gset after a statement's text: %v; want it refused at line 2", err)
		}
		if _, err = split(emptyCopy); !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "COPY … FROM STDIN") {
			t.Errorf("an empty COPY block: %v; want the COPY refused at line 2", err)
		}
		if sts, err = split(inside); err != nil || len(sts) != 2 {
			t.Errorf("backslashes inside statements: %+v, %v", sts, err)
		}
	}
	t.Run("whole", func(t *testing.T) {
		check(t, func(text string) ([]Statement, error) { return Split(Postgres, text, 1) })
		if sts, err := Split(MySQL, "\\restrict x\n", 1); err != nil || len(sts) != 1 {
			t.Errorf("MySQL: %+v, %v; want the line left to the server", sts, err)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		old := LargeFile
		LargeFile = 16
		t.Cleanup(func() { LargeFile = old })
		check(t, func(text string) ([]Statement, error) {
			ms, err := Load(fstest.MapFS{"0001_d.up.sql": &fstest.MapFile{Data: []byte(text)}})
			if err != nil || !ms[0].Up.Streamed() {
				t.Fatalf("Load: %v", err)
			}
			var out []Statement
			for st, err := range ms[0].Up.StatementSeq(Postgres) {
				if err != nil {
					return out, err
				}
				out = append(out, st)
			}
			return out, nil
		})
	})
}

// mysqldump's LOCK TABLES is refused with its line: the history writes
// between statements would fail on the tables it does not name.
func TestLockTablesIsRefused(t *testing.T) {
	_, err := Split(MySQL, "CREATE TABLE t (id int);\nLOCK TABLES `t` WRITE;\nINSERT INTO t VALUES (1);\nUNLOCK TABLES;\n", 1)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "remove LOCK TABLES") {
		t.Fatalf("Split: %v, want ErrUnsupported at line 2", err)
	}
	for _, ok := range []string{"SELECT * FROM t FOR UPDATE;", "LOCK INSTANCE FOR BACKUP;"} {
		if _, err := Split(MySQL, ok, 1); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if _, err := Split(Postgres, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE;", 1); err != nil {
		t.Errorf("PostgreSQL LOCK TABLE: %v", err)
	}
}
