package runway

import (
	"strings"
	"unicode"

	"github.com/runwaydb/runway/migration"
)

// What one statement does to the session, as the resumed run's replay
// (session.go) sees it: read per dialect, with comments read as the
// server reads them.

// effect is what a statement does to the session, as sessionEffect sees it.
type effect struct {
	keys      []string          // what it sets, in lower case ("search_path", "@tenant", "use", "attach aux"): to send again
	reads     []string          // the variables its values read (MySQL's @x, @@x), as keys
	kills     []string          // what it sets from values a new session would not compute the same: not to send again, and unset in a resumed run
	drops     []dropped         // what it drops that the session may be set to
	undoesAll func(string) bool // PostgreSQL's RESET ALL, DISCARD ALL: the settings whose keys it matches stay
	detach    string            // SQLite's DETACH: the schema it detaches
}

// dropped is an object a statement drops that a setting may name: the
// database of a USE (key "use"), the role of a SET ROLE ("role"), as
// settingName spells it.
type dropped struct{ key, name string }

// sessionEffect says whether sql sets something of the session that lasts
// for the rest of it, that the statements after it may rely on, and that
// sending it again in a new session sets to the same value without reading
// or changing data; and what it sets (effect.keys):
//   - SET of a session parameter or variable (PostgreSQL: search_path,
//     lock_timeout, ROLE, SESSION AUTHORIZATION, TIME ZONE …; MySQL:
//     FOREIGN_KEY_CHECKS, sql_mode, NAMES, time_zone, @user variables,
//     @@session.x …), also inside a MySQL /*!NNNNN … */ comment as mysqldump
//     writes them, when every value it assigns is a constant: no function
//     call or subquery (nothing in parentheses), nothing that a new session
//     answers otherwise (CURRENT_TIMESTAMP, @@identity …); a variable read
//     (mysqldump's @OLD_X = @@X) is read again after the settings before it;
//   - PostgreSQL's RESET, and SELECT set_config('name', 'value', false) of
//     constants alone (pg_dump's search_path);
//   - MySQL's USE;
//   - SQLite's ATTACH of a constant file name, and the PRAGMAs that change
//     what the connection's statements do (foreign_keys, recursive_triggers,
//     case_sensitive_like, writable_schema …).
//
// Comments are read as the server reads them: left out, but for MySQL's
// executable ones.
//
// Not: what applies only in a transaction or to the next one (SET LOCAL,
// SET CONSTRAINTS, SET TRANSACTION, MySQL's @@transaction_isolation),
// what outlives the session or is its credentials (SET GLOBAL, SET
// PERSIST, SET PASSWORD, SET DEFAULT ROLE), what the next statement uses
// up (SET INSERT_ID, SET RAND_SEED1 …), MariaDB's SET STATEMENT … FOR,
// which runs a statement, and a SET of several variables of which one is
// not to be sent again. MySQL's SET autocommit = 0 is sent again: where
// the resumed statements ran with autocommit off, they run so again, in
// the transaction it opens (mariadb-dump --no-autocommit's SET
// @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0, whose transaction a failure
// rolled back, resumes after it), and the driver turns it back on before
// the migration's last record.
//
// What sets a variable from a value that is not a constant (SET @id =
// LAST_INSERT_ID(), SELECT … INTO @n, @n := …, CALL p(@out), set_config
// of an expression) is in effect.kills: the variable is unset in the
// resumed statements, rather than holding a value an earlier statement
// gave it.
func sessionEffect(d migration.Dialect, sql string) effect {
	if !mayTouchSession(d, sql) {
		return effect{}
	}
	sql = strings.TrimSpace(migration.StripComments(d, sql))
	if n := len(sql) - len(strings.TrimLeftFunc(sql, unicode.IsLetter)); d == migration.MySQL && n < len(sql) && sql[n] == '@' {
		sql = sql[:n] + " " + sql[n:] // SET@a=1
	}
	w := leadWords(sql, 4)
	if len(w) == 0 {
		return effect{}
	}
	switch {
	case w[0] == "SET" && d == migration.Postgres:
		return pgSet(sql, w)
	case w[0] == "SET" && d == migration.MySQL:
		return mysqlSet(sql)
	case w[0] == "RESET" && d == migration.Postgres && len(w) > 1:
		if w[1] == "ALL" {
			return effect{undoesAll: func(k string) bool { return k == "role" || k == "session_authorization" }}
		}
		return effect{keys: pgKeys(pgParameter(w[1:]))}
	case w[0] == "DISCARD" && d == migration.Postgres && len(w) > 1 && w[1] == "ALL":
		return effect{undoesAll: func(string) bool { return false }}
	case w[0] == "USE" && d == migration.MySQL:
		return effect{keys: []string{"use"}}
	case w[0] == "DROP" && len(w) > 2:
		return effect{drops: drops(d, sql, w)}
	case w[0] == "ATTACH" && d == migration.SQLite:
		return attach(sql)
	case w[0] == "DETACH" && d == migration.SQLite && len(w) > 1:
		name := w[1]
		if name == "DATABASE" && len(w) > 2 {
			name = w[2]
		}
		return effect{detach: strings.ToLower(strings.Trim(name, "\"'`[]"))}
	case w[0] == "PRAGMA" && d == migration.SQLite:
		if name, ok := sessionPragma(sql); ok {
			return effect{keys: []string{"pragma " + name}}
		}
	case d == migration.Postgres:
		switch w[0] {
		case "SELECT":
			if name, ok := setConfig(sql); ok {
				return effect{keys: pgKeys(name)}
			}
		case "CREATE", "ALTER", "COMMENT", "PREPARE":
			if !createsTableAs(w) {
				return effect{} // a function's, view's or rule's body runs later, if ever
			}
		}
		// A DO block's body is code; elsewhere, what is quoted is data.
		return effect{kills: setConfigKills(sql, w[0] == "DO")}
	case d == migration.MySQL:
		switch w[0] {
		case "CREATE", "ALTER":
			if !createsTableAs(w) {
				return effect{} // a routine's, trigger's or view's body runs later
			}
		case "CALL":
			return effect{kills: callOutVars(sql)}
		case "LOAD":
			// LOAD DATA's (@col) list and SET clause.
			return effect{kills: userVarsAssigned(sql, true)}
		}
		return effect{kills: userVarsAssigned(sql, false)}
	}
	return effect{}
}

// createsTableAs reports whether a CREATE statement, whose first words are
// w, creates a table, maybe from a query that runs now (CREATE TABLE … AS
// SELECT), rather than a routine, view or trigger whose body runs later.
func createsTableAs(w []string) bool {
	if w[0] != "CREATE" {
		return false
	}
	for _, x := range w[1:] {
		switch x {
		case "OR", "REPLACE", "TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL":
		case "TABLE":
			return true
		default:
			return false
		}
	}
	return false
}

// mayTouchSession is a quick look at a statement that tells those that
// sessionEffect finds nothing in (most of a script: its DDL and data),
// without reading them through.
func mayTouchSession(d migration.Dialect, sql string) bool {
	switch d {
	case migration.MySQL:
		if strings.HasPrefix(sql, "/*") || strings.IndexByte(sql, '@') >= 0 {
			return true
		}
	case migration.Postgres:
		if indexFold(sql, "set_config") >= 0 {
			return true
		}
	}
	switch strings.ToUpper(sql[:len(sql)-len(strings.TrimLeftFunc(sql, unicode.IsLetter))]) {
	case "SET", "RESET", "DISCARD", "USE", "DROP", "ATTACH", "DETACH", "PRAGMA":
		return true
	}
	return false
}

// indexFold is strings.Index of the lower-case ASCII word sub in s, in any
// case, without copying s.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i]|0x20 == sub[0] && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// pgSet is sessionEffect for a PostgreSQL SET whose first words are w.
func pgSet(sql string, w []string) effect {
	if len(w) < 2 {
		return effect{}
	}
	rest := w[1:]
	if rest[0] == "SESSION" && len(rest) > 1 && rest[1] != "AUTHORIZATION" && rest[1] != "CHARACTERISTICS" {
		rest = rest[1:]
	}
	name, _, _ := strings.Cut(rest[0], "=")
	switch {
	case name == "LOCAL", name == "CONSTRAINTS", name == "TRANSACTION", strings.HasPrefix(name, "TRANSACTION_"):
		return effect{}
	case !constantValue(sql, false):
		return effect{kills: pgKeys(pgParameter(rest))}
	case name == "SESSION" && len(rest) > 1 && rest[1] == "CHARACTERISTICS":
		return effect{keys: characteristics(sql, "default_transaction_")}
	}
	return effect{keys: pgKeys(pgParameter(rest))}
}

// pgKeys are the keys of what setting PostgreSQL's parameter p sets: SET
// SESSION AUTHORIZATION also resets the role.
func pgKeys(p string) []string {
	if p == "session_authorization" {
		return []string{p, "role"}
	}
	return []string{p}
}

// pgParameter is the parameter that SET or RESET followed by w sets, in
// lower case, with its other spellings made one.
func pgParameter(w []string) string {
	name, _, _ := strings.Cut(w[0], "=")
	switch {
	case name == "TIME" && len(w) > 1 && w[1] == "ZONE":
		return "timezone"
	case name == "SCHEMA":
		return "search_path"
	case name == "NAMES":
		return "client_encoding"
	case name == "SESSION" && len(w) > 1 && w[1] == "AUTHORIZATION":
		return "session_authorization"
	}
	return strings.ToLower(strings.Trim(name, `"`))
}

// setConfig returns the parameter of a statement that is nothing but
// SELECT [pg_catalog.]set_config('name', 'value', false), with constants.
func setConfig(sql string) (string, bool) {
	s := strings.TrimSpace(sql[len("select"):])
	if len(s) >= len("pg_catalog.") && strings.EqualFold(s[:len("pg_catalog.")], "pg_catalog.") {
		s = s[len("pg_catalog."):]
	}
	if len(s) < len("set_config") || !strings.EqualFold(s[:len("set_config")], "set_config") {
		return "", false
	}
	args, ok := strings.CutPrefix(strings.TrimSpace(s[len("set_config"):]), "(")
	if !ok {
		return "", false
	}
	if args, ok = strings.CutSuffix(strings.TrimSpace(args), ")"); !ok {
		return "", false
	}
	var vals []string
	for {
		args = strings.TrimSpace(args)
		if !strings.HasPrefix(args, "'") {
			// The last argument, is_local, is a word: false alone lasts
			// for the session.
			if len(vals) != 2 || !strings.EqualFold(args, "false") {
				return "", false
			}
			return strings.ToLower(vals[0]), true
		}
		v, rest, ok := cutQuoted(args)
		if !ok {
			return "", false
		}
		vals = append(vals, v)
		if args, ok = strings.CutPrefix(strings.TrimSpace(rest), ","); !ok {
			return "", false
		}
	}
}

// cutQuoted reads the SQL string literal s starts with ('it”s'), and
// returns its value and what follows it.
func cutQuoted(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

// mysqlSet is sessionEffect for a MySQL SET: each of its assignments must
// be one to send again.
func mysqlSet(sql string) effect {
	body := strings.TrimSpace(sql[len("set"):])
	w := leadWords(body, 2)
	if len(w) == 0 {
		return effect{}
	}
	first := w[0]
	if i := strings.IndexAny(first, ":=@"); i > 0 {
		first = first[:i] // SET PASSWORD='…'
	}
	switch first {
	case "NAMES", "CHARSET", "CHARACTER":
		keys := []string{"character_set_client", "character_set_connection", "character_set_results", "collation_connection"}
		switch {
		case first == "CHARACTER" && (len(w) < 2 || w[1] != "SET"):
			break // a variable named character
		case !constantValue(body, true):
			return effect{kills: keys}
		case first == "NAMES":
			return effect{keys: keys}
		default:
			// The connection's character set becomes the database's.
			return effect{keys: keys, reads: []string{"use"}}
		}
	case "ROLE":
		if !constantValue(body, true) {
			return effect{kills: []string{"role"}}
		}
		return effect{keys: []string{"role"}}
	case "SESSION":
		if len(w) > 1 && w[1] == "TRANSACTION" {
			return effect{keys: characteristics(body, "transaction_")}
		}
	case "STATEMENT":
		// SET STATEMENT … FOR runs a statement, which may set variables.
		return effect{kills: userVarsAssigned(body, false)}
	case "TRANSACTION", "PASSWORD", "DEFAULT", "RESOURCE":
		return effect{}
	}
	var e effect
	sent := true
	scope := "" // a GLOBAL or PERSIST holds for the assignments after it too
	for _, a := range migration.SplitTopLevel(body, ',') {
		target, _, _ := strings.Cut(a, "=")
		if f := strings.Fields(target); len(f) == 2 && !strings.HasPrefix(f[0], "@") {
			scope = strings.ToLower(f[0])
		} else if len(f) == 1 && !strings.HasPrefix(f[0], "@") && scope != "" && scope != "session" && scope != "local" {
			a = scope + " " + a
		}
		k, value, how := mysqlAssignment(a)
		switch how {
		case sentAgain:
			e.keys = append(e.keys, k)
			e.reads = append(e.reads, variablesRead(value)...)
		case notConstant:
			sent = false
			e.kills = append(e.kills, k)
		default:
			sent = false
		}
		e.kills = append(e.kills, userVarsAssigned(value, false)...)
	}
	if !sent {
		// Not sent: what it sets is unset in the resumed statements.
		return effect{kills: append(e.keys, e.kills...)}
	}
	return effect{keys: e.keys, reads: e.reads}
}

// What a MySQL resumed run does with one assignment of a SET.
const (
	sentAgain   = iota // of the session, to a constant
	notConstant        // of the session, to a value a new session computes otherwise
	notSession         // of another scope, or for a moment (see mysqlAssignment)
)

// mysqlAssignment returns the key of one assignment of a MySQL SET
// ("foreign_key_checks", "@tenant"), its value, and whether a resumed run
// sends it again: when it is of the session, to a constant, and none of
// the next transaction's characteristics
// (@@transaction_isolation with no scope), the session's credentials, or
// what the next statement uses up and the binary log sets (INSERT_ID,
// RAND_SEED1 …).
func mysqlAssignment(a string) (key, value string, how int) {
	a = strings.TrimSpace(a)
	i := strings.IndexAny(a, ":=")
	if i <= 0 {
		return "", "", notSession
	}
	target := strings.ToLower(strings.TrimSpace(a[:i]))
	value = strings.TrimPrefix(strings.TrimPrefix(a[i:], ":"), "=")
	if f := strings.Fields(target); len(f) == 2 && !strings.HasPrefix(target, "@") {
		if f[0] != "session" && f[0] != "local" {
			return "", value, notSession // GLOBAL, PERSIST, PERSIST_ONLY
		}
		target = f[1]
	} else if len(f) != 1 && !strings.HasPrefix(target, "@") { // @`a b` is one name
		return "", value, notSession
	}
	nextTx := strings.HasPrefix(target, "@@") && !strings.Contains(target, ".")
	target, ok := variable(target)
	switch target {
	case "tx_isolation", "tx_read_only":
		target = "transaction_" + target[len("tx_"):]
	}
	switch {
	case !ok, target == "":
		return "", value, notSession
	case target == "transaction_isolation", target == "transaction_read_only":
		if nextTx {
			return "", value, notSession
		}
	case strings.HasPrefix(target, "transaction_"), strings.HasPrefix(target, "tx_"):
		return "", value, notSession
	}
	switch target {
	case "password", "insert_id", "last_insert_id", "identity", "rand_seed1", "rand_seed2", "gtid_next", "gtid_seq_no":
		return "", value, notSession
	}
	if !constantValue(value, true) {
		return target, value, notConstant
	}
	return target, value, sentAgain
}

// characteristics are the keys of the transaction characteristics that a
// SET SESSION TRANSACTION (MySQL) or SET SESSION CHARACTERISTICS AS
// TRANSACTION (PostgreSQL) sets, with prefix.
func characteristics(sql, prefix string) []string {
	var keys []string
	u := strings.ToUpper(sql)
	if strings.Contains(u, "ISOLATION") {
		keys = append(keys, prefix+"isolation")
	}
	if strings.Contains(u, "READ ONLY") || strings.Contains(u, "READ WRITE") {
		keys = append(keys, prefix+"read_only")
	}
	if strings.Contains(u, "DEFERRABLE") {
		keys = append(keys, prefix+"deferrable")
	}
	return keys
}

// variable is the key of a MySQL variable as a statement names it: @x,
// @'x', @`x` → "@x"; @@x, @@session.x, @@local.x, x → "x"; ok is false for
// another scope's (@@global.x).
func variable(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if name, ok := strings.CutPrefix(v, "@@"); ok {
		if scope, rest, ok := strings.Cut(name, "."); ok {
			if scope != "session" && scope != "local" {
				return "", false
			}
			name = rest
		}
		return strings.Trim(name, "`"), true
	}
	if name, ok := strings.CutPrefix(v, "@"); ok {
		return "@" + strings.Trim(name, "`'\""), true
	}
	return strings.Trim(v, "`"), true
}

// variablesRead returns the keys of the variables a MySQL value names.
func variablesRead(v string) []string {
	var out []string
	mysqlTokens(v, func(tok, _ string) {
		if tok[0] == '@' {
			if k, ok := variable(tok); ok {
				out = append(out, k)
			}
		}
	})
	return out
}

// mysqlTokens calls visit for each variable (@x, @'x', @@session.x) and
// each word of MySQL text s outside quoted strings and identifiers, in
// order, with what follows it.
func mysqlTokens(s string, visit func(tok, rest string)) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '@' || c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z':
			j := i + 1
			if c == '@' {
				if j < len(s) && s[j] == '@' {
					j++
				}
				if j < len(s) && (s[j] == '\'' || s[j] == '"' || s[j] == '`') {
					if end := strings.IndexByte(s[j+1:], s[j]); end >= 0 {
						j += end + 2
					}
				}
			}
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= '0' && s[j] <= '9' || s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z' || c == '@' && s[j] == '.') {
				j++
			}
			visit(s[i:j], s[j:])
			i = j - 1
		case c >= '0' && c <= '9':
			for i+1 < len(s) && (s[i+1] == '_' || s[i+1] == '.' || s[i+1] >= '0' && s[i+1] <= '9' || s[i+1]|0x20 >= 'a' && s[i+1]|0x20 <= 'z') {
				i++ // a number, or a name that starts with digits: not a word to visit
			}
		}
	}
}

// constantValue reports whether a value is one that a new session
// computes the same: nothing in parentheses (a function call, a subquery)
// outside quotes, no assignment (MySQL's @x := …), and none of the words
// whose value is the moment's or the session's own. backslash tells
// whether a backslash escapes the next byte in a string (MySQL's).
func constantValue(v string, backslash bool) bool {
	var quote byte
	escapes := false
	start := -1
	for i := 0; i <= len(v); i++ {
		c := byte(' ')
		if i < len(v) {
			c = v[i]
		}
		if quote != 0 {
			if c == '\\' && quote != '`' && (backslash || escapes) {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if c == '_' || c == '@' || c == '.' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' {
			if start < 0 {
				start = i
			}
			continue
		}
		if c == ':' && i+1 < len(v) && v[i+1] == '=' {
			return false
		}
		if start >= 0 {
			w := strings.ToUpper(v[start:i])
			if rest, ok := strings.CutPrefix(w, "@@SESSION."); ok {
				w = "@@" + rest
			} else if rest, ok := strings.CutPrefix(w, "@@LOCAL."); ok {
				w = "@@" + rest
			}
			switch w {
			case "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME", "LOCALTIMESTAMP", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP",
				"SELECT", "FOR", "@@IDENTITY", "@@LAST_INSERT_ID", "@@INSERT_ID", "@@WARNING_COUNT", "@@ERROR_COUNT", "@@ROWCOUNT",
				"@@PSEUDO_THREAD_ID", "@@TIMESTAMP", "@@RAND_SEED1", "@@RAND_SEED2":
				return false // the moment's, the session's own, or a sequence's NEXT VALUE FOR
			}
			if strings.HasSuffix(w, ".NEXTVAL") || strings.HasSuffix(w, ".CURRVAL") || strings.HasSuffix(w, ".LASTVAL") {
				return false
			}
			start = -1
		}
		switch c {
		case '(':
			return false
		case '\'', '"', '`':
			quote = c
			// PostgreSQL's E'…' escapes with backslashes.
			escapes = c == '\'' && i > 0 && v[i-1]|0x20 == 'e' && (i == 1 || !identByte(v[i-2]))
		}
	}
	return quote == 0
}

// drops returns what a DROP statement, whose first words are w, drops
// that a setting may name: MySQL's DROP DATABASE or SCHEMA, DROP ROLE.
func drops(d migration.Dialect, sql string, w []string) []dropped {
	key := ""
	switch {
	case (w[1] == "DATABASE" || w[1] == "SCHEMA") && d == migration.MySQL:
		key = "use"
	case w[1] == "ROLE" && d != migration.SQLite:
		key = "role"
	default:
		return nil
	}
	names := strings.TrimSpace(sql[indexFold(sql, strings.ToLower(w[1]))+len(w[1]):])
	if f := strings.Fields(names); len(f) > 2 && strings.EqualFold(f[0], "IF") && strings.EqualFold(f[1], "EXISTS") {
		names = strings.TrimSpace(names[indexFold(names, "exists")+len("exists"):])
	}
	var out []dropped
	for _, n := range migration.SplitTopLevel(names, ',') {
		out = append(out, dropped{key: key, name: objectName(d, n)})
	}
	return out
}

// settingName returns the object that sql, a statement that sets key,
// sets the session to: the database of a USE, the role of a SET ROLE, as
// objectName spells it; "" for another statement.
func settingName(d migration.Dialect, key, sql string) string {
	f := strings.Fields(strings.TrimSpace(migration.StripComments(d, sql)))
	switch {
	case key == "use" && len(f) > 1 && strings.EqualFold(f[0], "USE"):
		return objectName(d, f[1])
	case key == "role" && len(f) > 2 && strings.EqualFold(f[0], "SET"):
		if strings.EqualFold(f[1], "SESSION") || strings.EqualFold(f[1], "LOCAL") {
			f = f[1:]
		}
		if strings.EqualFold(f[1], "ROLE") && len(f) > 2 {
			return objectName(d, strings.Join(f[2:], " "))
		}
	}
	return ""
}

// objectName spells the name of a database or role as written in a
// statement so that two spellings of one name compare equal: quotes
// removed; on PostgreSQL, a name not in double quotes in lower case, as
// the server folds it. MySQL's names of databases are as written, as on
// a server that keeps their case (Linux).
func objectName(d migration.Dialect, n string) string {
	n = strings.TrimSuffix(strings.TrimSpace(n), ";")
	n = strings.TrimSpace(n)
	if d == migration.Postgres {
		if len(n) > 1 && n[0] == '"' {
			return strings.ReplaceAll(strings.Trim(n, `"`), `""`, `"`)
		}
		return strings.ToLower(strings.Trim(n, "'"))
	}
	return strings.NewReplacer("`", "", "'", "", `"`, "").Replace(n)
}

// attach is sessionEffect for a SQLite ATTACH [DATABASE] expr AS name: it
// is sent again when expr is a constant (a file name, not one made of the
// moment's time).
func attach(sql string) effect {
	f := strings.Fields(sql)
	if len(f) < 4 || !strings.EqualFold(f[len(f)-2], "AS") {
		return effect{}
	}
	expr := strings.TrimSpace(sql[len("attach") : len(sql)-len(f[len(f)-1])])
	expr = strings.TrimSpace(expr[:len(expr)-len("as")])
	if len(expr) > len("database") && strings.EqualFold(expr[:len("database")], "database") && expr[len("database")] <= ' ' {
		expr = expr[len("database"):]
	}
	if !constantValue(expr, false) || strings.Contains(expr, "||") {
		return effect{}
	}
	return effect{keys: []string{"attach " + strings.ToLower(strings.Trim(f[len(f)-1], "\"'`[];"))}}
}

// setConfigKills returns the parameters that the set_config calls in a
// PostgreSQL statement set for the session (is_local not true) from values
// that are not sent again: any but a statement of one strict call
// (setConfig). Calls inside strings and quoted identifiers are data, not
// calls, but for a DO block's (code true), whose body is a string.
func setConfigKills(sql string, code bool) []string {
	var out []string
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case !code && (c == '\'' || c == '"'):
			i = pgQuoteEnd(sql, i)
		case !code && c == '$' && (i == 0 || !identByte(sql[i-1])):
			if j := strings.IndexByte(sql[i+1:], '$'); j >= 0 && isTag(sql[i+1:i+1+j]) {
				tag := sql[i : i+j+2]
				if k := strings.Index(sql[i+len(tag):], tag); k >= 0 {
					i += len(tag) + k + len(tag) - 1
				} else {
					i = len(sql)
				}
			}
		case c|0x20 == 's' && (i == 0 || !identByte(sql[i-1])) && len(sql)-i >= len("set_config") && strings.EqualFold(sql[i:i+len("set_config")], "set_config"):
			i += len("set_config") - 1
			if name, ok := setConfigCall(sql[i+1:]); ok {
				out = append(out, pgKeys(name)...)
			}
		}
	}
	return out
}

// setConfigCall reads what follows a set_config: ('name', value, is_local).
// It returns the name when the call sets it for the session, or may: not
// when is_local is a constant true. It reads at most 1 KiB of the call, so
// that a statement of many calls is read in linear time.
func setConfigCall(s string) (string, bool) {
	args, ok := strings.CutPrefix(strings.TrimLeft(s, " \t\r\n"), "(")
	if !ok {
		return "", false
	}
	args = strings.TrimLeft(args, " \t\r\n")
	if !strings.HasPrefix(args, "'") {
		return "", false // a parameter named by an expression: unknown
	}
	name, after, ok := cutQuoted(args[:min(len(args), 1024)])
	if !ok {
		return "", false
	}
	parts := migration.SplitTopLevel(closeParen(after[:min(len(after), 1024)]), ',')
	if len(parts) == 3 {
		switch strings.ToLower(strings.Trim(strings.TrimSpace(parts[2]), "'")) {
		case "true", "t", "on", "yes", "y", "1":
			return "", false // lasts for the transaction
		}
	}
	return strings.ToLower(name), true
}

// pgQuoteEnd returns the offset of the quote that closes the string or
// quoted identifier opened at i (an E” string's backslashes escape), or
// the last offset of sql when none does.
func pgQuoteEnd(sql string, i int) int {
	q := sql[i]
	backslash := q == '\'' && i > 0 && sql[i-1]|0x20 == 'e' && (i == 1 || !identByte(sql[i-2]))
	for j := i + 1; j < len(sql); j++ {
		switch {
		case backslash && sql[j] == '\\':
			j++
		case sql[j] == q && j+1 < len(sql) && sql[j+1] == q:
			j++
		case sql[j] == q:
			return j
		}
	}
	return len(sql) - 1
}

// isTag reports whether s may be the tag of a PostgreSQL dollar quote
// ($$, $body$), not a parameter ($1).
func isTag(s string) bool {
	for i := 0; i < len(s); i++ {
		if !identByte(s[i]) || i == 0 && s[i] >= '0' && s[i] <= '9' {
			return false
		}
	}
	return true
}

// identByte reports whether c may be part of an unquoted identifier.
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80
}

// closeParen returns s up to the parenthesis that closes the one opened
// before it, outside quotes.
func closeParen(s string) string {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return s[:i]
			}
			depth--
		}
	}
	return s
}

// callOutVars returns the keys of the user variables that a MySQL CALL
// passes as arguments of their own, which an OUT parameter may set: CALL
// p(@in, @out), not CONCAT(@a, 'x').
func callOutVars(sql string) []string {
	_, args, ok := strings.Cut(sql, "(")
	if !ok {
		return nil
	}
	var out []string
	for _, a := range migration.SplitTopLevel(closeParen(args), ',') {
		a = strings.TrimSpace(a)
		if !strings.HasPrefix(a, "@") || strings.HasPrefix(a, "@@") {
			continue
		}
		whole := false
		mysqlTokens(a, func(tok, rest string) { whole = tok == a && rest == "" })
		if k, ok := variable(a); ok && whole {
			out = append(out, k)
		}
	}
	return out
}

// userVarsAssigned returns the keys of the MySQL user variables that a
// statement other than SET (or a value in a SET) assigns: @x := …, SELECT …
// INTO @x, @y, and with all, every one it names (LOAD DATA's).
func userVarsAssigned(sql string, all bool) []string {
	if strings.IndexByte(sql, '@') < 0 {
		return nil
	}
	var out []string
	into := false // after INTO, in its list of variables
	mysqlTokens(sql, func(tok, rest string) {
		switch {
		case tok[0] != '@':
			into = strings.EqualFold(tok, "into")
		case strings.HasPrefix(tok, "@@"): // a system variable: SET assigns those
		case all || into || strings.HasPrefix(strings.TrimLeft(rest, " \t\r\n"), ":="):
			k, _ := variable(tok)
			out = append(out, k)
		}
	})
	return out
}

// sessionPragma returns the setting a SQLite PRAGMA sets, when it sets one
// of the connection's settings that change what its statements do: those
// last for the connection and are not kept in the database file. Settings
// of speed alone (cache_size, synchronous, temp_store, busy_timeout …) are
// not sent again, nor what the database file keeps (journal_mode,
// user_version …).
func sessionPragma(sql string) (string, bool) {
	_, p, _ := strings.Cut(strings.ToLower(strings.TrimSpace(sql)), "pragma")
	p = strings.TrimSpace(p)
	name, _, ok := strings.Cut(p, "=")
	if !ok {
		if name, _, ok = strings.Cut(p, "("); !ok {
			return "", false // a query of the setting
		}
	}
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // these settings are the connection's, whatever the schema named
	}
	name = strings.Trim(name, "\"'`[] ")
	switch name {
	case "foreign_keys", "recursive_triggers", "case_sensitive_like", "ignore_check_constraints", "legacy_alter_table",
		"reverse_unordered_selects", "trusted_schema", "query_only", "writable_schema":
		return name, true
	}
	return "", false
}
