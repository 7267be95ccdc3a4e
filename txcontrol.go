package runway

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/runwaydb/runway/migration"
)

// txControl names the transaction-control statement sql is ("BEGIN",
// "COMMIT" …), or returns "" for any other statement. BEGIN ATOMIC and
// MariaDB's BEGIN NOT ATOMIC open blocks, not transactions; ROLLBACK TO a
// savepoint stays inside the transaction.
func txControl(sql string) string {
	first, second := firstWords(sql)
	switch first {
	case "BEGIN":
		if second == "ATOMIC" || second == "NOT" {
			return ""
		}
		return first
	case "START":
		if second == "TRANSACTION" {
			return "START TRANSACTION"
		}
	case "ROLLBACK":
		// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] s
		if slices.Contains(leadWords(sql, 3)[1:], "TO") {
			return ""
		}
		return first
	case "COMMIT", "END", "ABORT":
		return first
	}
	return ""
}

// setting reports whether sql is a statement that may stand before a
// script's BEGIN, as sqlite3's .dump writes PRAGMA foreign_keys=OFF before
// its BEGIN TRANSACTION: a SET of a session parameter, or PRAGMA
// foreign_keys=OFF or defer_foreign_keys. It stays where it is, now inside
// Runway's transaction, where it acts as it did before the BEGIN; but
// PRAGMA foreign_keys does nothing in a transaction, where the dump's rows
// go in with foreign keys off all the same unless the URL turned them on
// (sqlite3 and Runway leave them off). What acts otherwise in a
// transaction (SET LOCAL, SET CONSTRAINTS, SET TRANSACTION, SET SESSION
// CHARACTERISTICS, SET transaction_… and default_transaction_…, PRAGMA
// foreign_keys=ON, PRAGMA journal_mode …) is no setting: the wrapper
// after it is then the script's own transaction control, refused.
func setting(sql string) bool {
	first, second := firstWords(sql)
	switch first {
	case "PRAGMA":
		// foreign_keys=OFF only: ON would do nothing in the transaction,
		// and ON DELETE CASCADE would not fire.
		p := strings.ToLower(strings.Join(leadWords(sql, 4)[1:], ""))
		p = strings.TrimPrefix(p, "main.")
		switch p {
		case "foreign_keys=off", "foreign_keys=0", "foreign_keys=false", "foreign_keys=no":
			return true
		}
		return strings.HasPrefix(p, "defer_foreign_keys=")
	case "SET":
		w := leadWords(sql, 3)
		name := second
		if name == "SESSION" && len(w) > 2 {
			name = w[2]
		}
		name, _, _ = strings.Cut(name, "=")
		switch {
		case name == "LOCAL", name == "CONSTRAINTS", name == "TRANSACTION", name == "CHARACTERISTICS",
			strings.HasPrefix(name, "TRANSACTION_"), strings.HasPrefix(name, "DEFAULT_TRANSACTION_"):
			// What applies to the next transaction, or only inside one.
			return false
		}
		return true
	}
	return false
}

// firstWords returns the first two words of sql, in upper case.
func firstWords(sql string) (first, second string) {
	w := leadWords(sql, 2)
	if len(w) > 0 {
		first = w[0]
	}
	if len(w) > 1 {
		second = w[1]
	}
	return first, second
}

// leadWords returns up to n words from the start of sql, in upper case:
// the text between blanks and semicolons, with comments left out (/* … */
// but for MySQL's executable /*! … */, and -- to the end of the line), so
// that ROLLBACK /* partial */ TO s reads as ROLLBACK TO S; a quoted name
// ("a--b", `x`, [y]) is part of its word. It reads at most 256 bytes of
// words and blanks, besides comments.
func leadWords(sql string, n int) []string {
	var words []string
	budget := 256
	for i := 0; len(words) < n && i < len(sql) && budget > 0; {
		switch c := sql[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';':
			i++
			budget--
		case commentAt(sql, i):
			end := len(sql)
			if c == '-' {
				if k := strings.IndexByte(sql[i:], '\n'); k >= 0 {
					end = i + k
				}
			} else if k := strings.Index(sql[i+2:], "*/"); k >= 0 {
				end = i + 2 + k + 2
			}
			i = end
		default:
			j := i
			for j < len(sql) && j-i < budget {
				c := sql[j]
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || j > i && commentAt(sql, j) {
					break
				}
				if q := strings.IndexByte(openQuotes, c); q >= 0 {
					// A quoted name or string is part of the word, whatever it holds.
					k := strings.IndexByte(sql[j+1:], closeQuotes[q])
					if k < 0 {
						j = len(sql)
						break
					}
					j += k + 2
					continue
				}
				j++
			}
			j = min(j, len(sql))
			words = append(words, strings.ToUpper(sql[i:j]))
			budget -= j - i
			i = j
		}
	}
	return words
}

// The quotes that leadWords reads words through, and their closing bytes.
const openQuotes, closeQuotes = "\"'`[", "\"'`]"

// commentAt reports whether a comment that leadWords leaves out starts at
// offset i of sql.
func commentAt(sql string, i int) bool {
	if i+1 >= len(sql) {
		return false
	}
	switch {
	case sql[i] == '-' && sql[i+1] == '-':
		return true
	case sql[i] == '/' && sql[i+1] == '*':
		return i+2 >= len(sql) || sql[i+2] != '!' && !(sql[i+2] == 'M' && i+3 < len(sql) && sql[i+3] == '!')
	}
	return false
}

func opensTx(sql string) bool {
	c := txControl(sql)
	return c == "BEGIN" || c == "START TRANSACTION"
}

func closesTx(sql string) bool {
	c := txControl(sql)
	return c == "COMMIT" || c == "END"
}

// unwrapTx prepares the statements of a script Runway runs in a
// transaction of its own. Many scripts written for tools that run a file as
// it is (golang-migrate) wrap themselves in BEGIN … COMMIT, maybe after
// settings (see setting): that wrapper is dropped, Runway's transaction
// taking its place; run as written, its COMMIT would end Runway's
// transaction early and the history row would be written outside it. Any
// other transaction control (a second BEGIN … COMMIT block, a ROLLBACK) is
// refused before anything runs: such a script manages its transactions
// itself and must say so with -- runway:no-transaction, which runs it as
// written, statement by statement.
func unwrapTx(file string, stmts []migration.Statement) ([]migration.Statement, error) {
	k := 0
	for k < len(stmts) && setting(stmts[k].SQL) {
		k++
	}
	if n := len(stmts); n-k >= 2 && opensTx(stmts[k].SQL) && closesTx(stmts[n-1].SQL) {
		if err := modeLost(file, stmts[k]); err != nil {
			return nil, err
		}
		stmts = append(slices.Clip(stmts[:k]), stmts[k+1:n-1]...)
	}
	for _, st := range stmts {
		if txControl(st.SQL) != "" {
			return nil, ownTxError(file, st)
		}
	}
	return stmts, nil
}

// modeLost refuses a wrapper BEGIN that sets its transaction's mode:
// ISOLATION LEVEL SERIALIZABLE or REPEATABLE READ, READ ONLY, DEFERRABLE
// (PostgreSQL's BEGIN and START TRANSACTION). Dropped with the wrapper, the
// mode would be lost without a word: a backfill written for a serializable
// snapshot would run at read committed, a read-only script would write. As
// SET TRANSACTION before the BEGIN is (setting), it is refused.
func modeLost(file string, begin migration.Statement) error {
	words := " " + strings.Join(leadWords(begin.SQL, 12), " ") + " "
	words = strings.NewReplacer(",", " ").Replace(words)
	var mode string
	switch {
	case strings.Contains(words, " SERIALIZABLE "):
		mode = "ISOLATION LEVEL SERIALIZABLE"
	case strings.Contains(words, " REPEATABLE READ "):
		mode = "ISOLATION LEVEL REPEATABLE READ"
	case strings.Contains(words, " READ ONLY "):
		mode = "READ ONLY"
	case strings.Contains(words, " DEFERRABLE ") && !strings.Contains(words, " NOT DEFERRABLE "):
		mode = "DEFERRABLE"
	default:
		return nil
	}
	return &migration.FileError{File: file, Line: begin.Line, Err: fmt.Errorf(
		"%w: %s with %s: Runway runs a migration in a transaction of its own, in place of the script's BEGIN … COMMIT, where that mode would be lost; "+
			"put -- runway:no-transaction at the top of the file to run it as written, statement by statement, or remove the mode",
		migration.ErrUnsupported, txControl(begin.SQL), mode)}
}

func ownTxError(file string, st migration.Statement) error {
	return &migration.FileError{File: file, Line: st.Line, Err: fmt.Errorf(
		"%w: %s: a migration runs in one transaction, which this statement would end or nest "+
			"(a BEGIN … COMMIT around the whole script is fine, with nothing before it but SET or PRAGMA foreign_keys=OFF): put -- runway:no-transaction at the top of the file "+
			"to run it as written, statement by statement, or remove the statement",
		migration.ErrUnsupported, txControl(st.SQL))}
}

// unwrapTxSeq is unwrapTx for a script read as it is sent: it drops a
// first BEGIN (after settings only) and a last COMMIT, and ends with an
// error at any other transaction control, which rolls the migration back.
func unwrapTxSeq(file string, seq iter.Seq2[migration.Statement, error]) iter.Seq2[migration.Statement, error] {
	return func(yield func(migration.Statement, error) bool) {
		var held *migration.Statement // a COMMIT, kept until it proves to be the last
		first, opened := true, false
		for st, err := range seq {
			if err != nil {
				yield(st, err)
				return
			}
			if first && !setting(st.SQL) {
				first = false
				if opensTx(st.SQL) {
					if err := modeLost(file, st); err != nil {
						yield(migration.Statement{}, err)
						return
					}
					opened = true
					continue
				}
			}
			if held != nil {
				yield(migration.Statement{}, ownTxError(file, *held))
				return
			}
			if txControl(st.SQL) != "" {
				if opened && closesTx(st.SQL) {
					held = &st
					continue
				}
				yield(migration.Statement{}, ownTxError(file, st))
				return
			}
			if !yield(st, nil) {
				return
			}
		}
		if opened && held == nil {
			// BEGIN without its COMMIT: the script opens a transaction it
			// leaves to the end of the session.
			yield(migration.Statement{}, &migration.FileError{File: file, Err: fmt.Errorf(
				"%w: the script begins a transaction it does not commit: end it with COMMIT, or remove its BEGIN", migration.ErrUnsupported)})
		}
	}
}

// txTracker follows the transactions a script run statement by statement
// (no-transaction, or any script on MySQL) opens and ends, to refuse one
// that leaves its session inside a transaction (err): Runway writes the
// history row, and runs the next migrations, in the same session after it,
// so whatever the open transaction holds, the row that records the
// migration as applied included, would be rolled back when the session
// closes, while the run reports the migration applied. On MySQL, changes
// left uncommitted under SET autocommit = 0 meet the same end.
//
// It errs on the side of letting a script run: on MySQL any statement it
// does not know to stay inside a transaction (DDL and most others) is
// taken to commit it, as DDL does implicitly.
type txTracker struct {
	dialect migration.Dialect
	open    *migration.Statement // the statement that opened the transaction still open
	// savepoint: SQLite, the transaction open was opened by SAVEPOINT
	// savepoint (its name), which RELEASE of that name commits.
	savepoint string
	off       *migration.Statement // MySQL: the SET autocommit = 0 in force
	// saved: MySQL, the user variables a SET @v = @@autocommit saved
	// autocommit in, and whether it was on then.
	saved map[string]bool
	// offWork: with autocommit off, a change has run since the last
	// commit, and waits for the next one.
	offWork bool
}

func newTxTracker(d migration.Dialect) *txTracker {
	return &txTracker{dialect: d}
}

// txText is sql as the server reads it, for its transaction-control
// words: on MySQL an executable comment holds a statement too (/*!40101
// COMMIT AND CHAIN */, /*M!99999 BEGIN */), and one the server skips holds
// none. Text that cannot be read stays as it is (staysInTx then refuses it).
func txText(d migration.Dialect, sql string) string {
	if d != migration.MySQL || !strings.Contains(sql, "/*") {
		return sql
	}
	if s, ok := migration.ReadComments(migration.MySQL, sql); ok {
		return s
	}
	return sql
}

// add follows st, the next statement of the script.
func (c *txTracker) add(st migration.Statement) {
	mysql := c.dialect == migration.MySQL
	sql := txText(c.dialect, st.SQL)
	switch txControl(sql) {
	case "BEGIN", "START TRANSACTION":
		// On MySQL a BEGIN commits the open transaction; on PostgreSQL
		// and SQLite one inside a transaction changes nothing.
		if mysql || c.open == nil {
			c.open, c.savepoint, c.offWork = &st, "", false
		}
		return
	case "COMMIT", "ROLLBACK":
		if chains(sql) {
			c.open = &st // COMMIT AND CHAIN starts the next transaction at once
			return
		}
		c.committed()
		return
	case "END", "ABORT":
		c.committed()
		return
	}
	first, second := firstWords(st.SQL)
	switch c.dialect {
	case migration.SQLite:
		// A SAVEPOINT outside a transaction opens one, and the RELEASE of
		// that savepoint commits it.
		name := strings.ToUpper(savepointName(st.SQL))
		switch {
		case first == "SAVEPOINT" && c.open == nil:
			c.open, c.savepoint = &st, name
		case first == "RELEASE" && c.savepoint != "" && name == c.savepoint:
			c.committed()
		}
		return
	case migration.Postgres:
		if first == "PREPARE" && second == "TRANSACTION" {
			c.committed() // the transaction is now a prepared one, out of the session
		}
		return
	}
	if on, ok := autocommitSet(st.SQL, c.off == nil, &c.saved); ok {
		switch {
		case !on:
			if c.off == nil {
				c.off = &st
			}
		case c.off != nil:
			// Turning autocommit back on commits.
			c.off = nil
			c.committed()
		}
		return
	}
	if !staysInTx(st.SQL) {
		c.committed() // implicitly, as DDL does
		return
	}
	if c.off != nil {
		switch first {
		case "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH":
			// A change to data (or WITH, which may lead to one); reads,
			// settings and temporary tables are none.
			c.offWork = true
		}
	}
}

// committed notes that the open transaction ended.
func (c *txTracker) committed() {
	c.open, c.savepoint, c.offWork = nil, "", false
}

// savepointName returns the savepoint a SAVEPOINT or RELEASE [SAVEPOINT]
// statement names, "" when it names none.
func savepointName(sql string) string {
	w := leadWords(sql, 3)
	if len(w) > 2 && w[0] == "RELEASE" && w[1] == "SAVEPOINT" {
		return strings.Trim(w[2], `;"'`+"`[]")
	}
	if len(w) > 1 {
		return strings.Trim(w[1], `;"'`+"`[]")
	}
	return ""
}

// err returns the error for a script whose statements were all added, nil
// when it leaves no transaction open. A MySQL script may end with
// autocommit still off (phpMyAdmin's exports: SET AUTOCOMMIT = 0; START
// TRANSACTION; … COMMIT;) when nothing waits for a commit: the driver turns
// autocommit back on before it writes the history row.
func (c *txTracker) err(file string) error {
	switch {
	case c.off != nil && c.offWork && c.open == nil:
		return &migration.FileError{File: file, Line: c.off.Line, Err: fmt.Errorf(
			"%w: SET autocommit = 0 is in force, and the statements after the script's last COMMIT are not committed: Runway runs it statement by statement, "+
				"and the session's end would roll them back (the migration would be reported applied all the same). "+
				"End the script with COMMIT", migration.ErrUnsupported)}
	case c.open != nil:
		return &migration.FileError{File: file, Line: c.open.Line, Err: fmt.Errorf(
			"%w: %s opens a transaction that the script does not end: Runway runs it statement by statement and writes the history row in the same session after it, "+
				"so the session's end would roll back the transaction's statements and that row (the migration would be reported applied all the same). "+
				"End the transaction with COMMIT, or remove the statement", migration.ErrUnsupported, opener(txText(c.dialect, c.open.SQL)))}
	}
	return nil
}

// opener names the statement that opened a transaction: BEGIN, START
// TRANSACTION, COMMIT AND CHAIN, SAVEPOINT.
func opener(sql string) string {
	switch c := txControl(sql); c {
	case "COMMIT", "ROLLBACK":
		return c + " AND CHAIN"
	case "":
		first, _ := firstWords(sql) // SQLite's SAVEPOINT
		return first
	default:
		return c
	}
}

// chains reports whether a COMMIT or ROLLBACK ends with AND CHAIN, which
// opens the next transaction at once (MySQL, PostgreSQL 12 and later).
func chains(sql string) bool {
	s := strings.Join(strings.Fields(strings.ToUpper(sql)), " ")
	return strings.Contains(s, "AND CHAIN") && !strings.Contains(s, "AND NO CHAIN")
}

// autocommitSet reports whether sql is a MySQL SET of the session's
// autocommit, and to which value, given whether it is on before sql: SET
// autocommit = 0, SET SESSION autocommit = OFF, SET @@autocommit := 1,
// also in an executable comment that every server runs (/*!40101 …, not
// MariaDB's /*M! nor a version of MySQL's that MariaDB skips). A SET of
// several variables counts when one of them is autocommit, the last such
// one deciding, and a GLOBAL before them makes the next ones global too.
// A variable that saved autocommit (mariadb-dump's SET
// @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0 … SET
// AUTOCOMMIT=@OLD_AUTOCOMMIT) is noted in *saved and read back from it;
// any other value Runway cannot read is not judged (ok false).
func autocommitSet(sql string, on bool, saved *map[string]bool) (bool, bool) {
	if first, _ := firstWords(sql); first != "SET" && !strings.HasPrefix(sql, "/*") {
		return false, false
	}
	if version, mariadb, _, _, ok := migration.ExecutableComment(sql); ok && (mariadb || len(version) != 5 || version >= "50700") {
		return false, false
	}
	s := strings.TrimSpace(migration.StripComments(migration.MySQL, sql))
	if first, _ := firstWords(s); first != "SET" {
		return false, false
	}
	judged := false
	scope := "session"
	for _, a := range migration.SplitTopLevel(s[len("set"):], ',') {
		i := strings.IndexAny(a, ":=")
		if i < 0 {
			continue
		}
		value := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(a[i:], ":"), "="))
		f := strings.Fields(strings.ToLower(a[:i]))
		if len(f) == 2 {
			scope, f = f[0], f[1:] // and for the assignments after it
		}
		if len(f) != 1 {
			continue
		}
		if k, _ := variable(f[0]); strings.HasPrefix(k, "@") {
			if v, ok := variable(value); ok && v == "autocommit" && strings.HasPrefix(value, "@@") {
				if *saved == nil {
					*saved = map[string]bool{}
				}
				(*saved)[k] = on
			}
			continue
		}
		k, session := variable(f[0])
		if k != "autocommit" || !session || !strings.HasPrefix(f[0], "@@") && scope != "session" && scope != "local" {
			continue // another variable, or the global autocommit
		}
		switch v := strings.ToUpper(strings.Trim(value, "'\"")); {
		case v == "0", v == "OFF", v == "FALSE":
			on, judged = false, true
		case v == "1", v == "ON", v == "TRUE":
			on, judged = true, true
		default:
			k, _ := variable(value)
			was, known := (*saved)[k]
			if !strings.HasPrefix(value, "@") || strings.HasPrefix(value, "@@") || !known {
				return false, false // a value Runway cannot read: not judged
			}
			on, judged = was, true
		}
	}
	return on && judged, judged
}

// staysInTx reports whether a MySQL statement is known to leave an open
// transaction open: data changes and reads, savepoints, SET (but for
// autocommit, PASSWORD and DEFAULT ROLE), temporary tables; a SET STATEMENT
// … FOR as the statement it runs. Everything else is taken to commit it, as
// DDL, LOCK TABLES, GRANT and table maintenance do.
func staysInTx(sql string) bool {
	first, second := firstWords(sql)
	if dataWord(first) {
		return true // the first word decides: a dump's 100 KB INSERT is read no further
	}
	if strings.Contains(sql, "/*") || strings.Contains(sql, "#") || strings.Contains(sql, "--") {
		// Its words read as the server reads them: the text of an
		// executable comment the server runs (mysqldump's /*!40101 SET
		// NAMES utf8mb4 */, CREATE /*!32302 TEMPORARY */ TABLE), none of
		// one it does not, nor of a # or -- comment (which leadWords does
		// not know for MySQL). Only comments, it changes nothing. Text
		// that cannot be read (a string that ends in a backslash under
		// NO_BACKSLASH_ESCAPES) is taken to stay: the script is refused
		// rather than run on a guess.
		words, ok := migration.ReadComments(migration.MySQL, sql)
		if !ok || strings.TrimSpace(words) == "" {
			return true
		}
		if first, second = firstWords(words); dataWord(first) {
			return true
		}
		sql = words
	}
	third := ""
	if first == "CREATE" || first == "DROP" {
		w := leadWords(sql, 5)
		if second == "OR" && len(w) >= 4 { // CREATE OR REPLACE TEMPORARY TABLE
			w = w[2:]
			second = w[1]
		}
		if len(w) >= 3 {
			third = w[2]
		}
	}
	switch first {
	case "SET":
		if inner, ok := migration.StatementFor(sql); ok {
			return staysInTx(inner) // MariaDB's SET STATEMENT … FOR ALTER TABLE …
		}
		// SET PASSWORD and SET DEFAULT ROLE write the grant tables, and
		// commit as DDL does (SET PASSWORD=PASSWORD('…') is one word here).
		password := strings.HasPrefix(second, "PASSWORD") && (len(second) == 8 || second[8] == '=')
		return !password && second != "DEFAULT"
	case "CREATE", "DROP":
		// MariaDB's CREATE TEMPORARY SEQUENCE commits as DDL does
		// (@@in_transaction is 0 after it); DROP TEMPORARY SEQUENCE and the
		// temporary tables do not.
		return second == "TEMPORARY" && !(first == "CREATE" && isSequenceWord(third))
	}
	return false
}

// isSequenceWord reports whether w, a word as leadWords reads it (upper
// case, a quoted name written against it included: SEQUENCE`s`), is
// SEQUENCE.
func isSequenceWord(w string) bool {
	return strings.HasPrefix(w, "SEQUENCE") && (len(w) == 8 || strings.IndexByte(openQuotes, w[8]) >= 0)
}

// dataWord reports whether a MySQL statement's first word alone says that
// it stays inside an open transaction: data changes and reads, savepoints,
// ROLLBACK TO SAVEPOINT (the other ROLLBACKs are transaction control, seen
// before).
func dataWord(first string) bool {
	switch first {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH", "VALUES", "TABLE", "DO",
		"SAVEPOINT", "RELEASE", "HANDLER", "ROLLBACK":
		return true
	}
	return false
}

// checkTxEnd returns txTracker's error for stmts, a whole script run
// statement by statement in dialect d.
func checkTxEnd(file string, d migration.Dialect, stmts []migration.Statement) error {
	c := newTxTracker(d)
	for _, st := range stmts {
		c.add(st)
	}
	return c.err(file)
}
