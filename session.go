package runway

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runwaydb/runway/migration"
)

// A resumed migration runs its remaining statements in a new session, where
// what its earlier statements set for the session is gone: the schema that
// SET search_path chose, the database of a USE, SET FOREIGN_KEY_CHECKS = 0,
// a lock_timeout, a user variable. Run as written, the statements after the
// resume point would put their tables elsewhere or run under other rules
// than in a run from the start. So before resuming, the runner sends again,
// in order, the statements an earlier run applied that set the session
// (sessionSetters), and only those.

// replayed is a statement an earlier run applied that a resumed run sends
// again before its first statement: number is its 1-based place in the
// script; keys and reads are what it sets and what it reads (see effect).
type replayed struct {
	number int
	st     migration.Statement
	keys   []string
	reads  []string
}

// sessionSetters returns the statements among applied (the first
// statements of a script, which an earlier run applied) to send again
// before the rest, with their numbers (see sessionLog).
func sessionSetters(d migration.Dialect, applied []migration.Statement) []replayed {
	l := sessionLog{d: d}
	for i, st := range applied {
		l.add(i+1, st)
	}
	return l.result()
}

// sessionLog gathers the statements of a script's first statements that a
// resumed run sends again: those that set the session from constants
// (sessionEffect), in order, less what the script undid itself:
//   - a statement whose every setting a later one sets again, unless a
//     statement kept between them reads it (of a thousand SET @p = '…', the
//     last; of USE tmp … USE main, the USE main), so that the list stays
//     short and sends nothing that may fail for a reason the script made
//     (its own DROP DATABASE tmp);
//   - an ATTACH that a DETACH undid, and the DETACH;
//   - on PostgreSQL, what a RESET ALL or DISCARD ALL undid, and the
//     settings of a transaction block the script rolled back, or rolled
//     back to a savepoint before them (a SET is transactional there).
type sessionLog struct {
	d       migration.Dialect
	out     []replayed
	compact int        // the length of out after its last compaction
	block   []savedLog // PostgreSQL: the open transaction block's start, then its savepoints
}

type savedLog struct {
	savepoint string
	out       []replayed
}

// add notes statement number of the script.
func (l *sessionLog) add(number int, st migration.Statement) {
	if l.d == migration.Postgres && l.txControl(st) {
		return
	}
	e := sessionEffect(l.d, st.SQL)
	switch {
	case e.undoesAll != nil:
		l.out = slices.DeleteFunc(slices.Clone(l.out), func(r replayed) bool { return !slices.ContainsFunc(r.keys, e.undoesAll) })
	case e.detach != "":
		l.out = slices.DeleteFunc(slices.Clone(l.out), func(r replayed) bool { return slices.Contains(r.keys, "attach "+e.detach) })
	case len(e.keys) > 0:
		if len(l.block) > 0 {
			l.out = slices.Clip(l.out) // the block's saved lists keep theirs
		}
		l.out = append(l.out, replayed{number: number, st: st, keys: e.keys, reads: e.reads})
		if len(l.out) >= 2*max(l.compact, 64) {
			l.out = needed(l.out)
			l.compact = len(l.out)
		}
	}
}

// needed returns the statements of out that the session's state after all
// of them needs, in a new slice: going back from the last, a statement
// stays when it sets something that no statement kept after it sets again
// without reading it first.
func needed(out []replayed) []replayed {
	setLater := map[string]bool{} // set by a statement kept after, and not read since
	keep := make([]bool, len(out))
	n := 0
	for i := len(out) - 1; i >= 0; i-- {
		r := out[i]
		if !slices.ContainsFunc(r.keys, func(k string) bool { return !setLater[k] }) {
			continue
		}
		keep[i] = true
		n++
		for _, k := range r.keys {
			setLater[k] = true
		}
		for _, k := range r.reads {
			delete(setLater, k)
		}
	}
	kept := make([]replayed, 0, n)
	for i, r := range out {
		if keep[i] {
			kept = append(kept, r)
		}
	}
	return kept
}

// txControl follows a PostgreSQL script's own transaction blocks, and
// reports whether st is one of their statements.
func (l *sessionLog) txControl(st migration.Statement) bool {
	switch c := txControl(st.SQL); c {
	case "BEGIN", "START TRANSACTION":
		l.block = []savedLog{{out: slices.Clip(l.out)}}
		return true
	case "COMMIT", "END", "ROLLBACK", "ABORT":
		if (c == "ROLLBACK" || c == "ABORT") && len(l.block) > 0 {
			l.out = l.block[0].out
		}
		l.block = nil
		if chains(st.SQL) {
			l.block = []savedLog{{out: slices.Clip(l.out)}}
		}
		return true
	}
	if len(l.block) == 0 {
		return false
	}
	if name, ok := rollbackTo(st.SQL); ok {
		for j := len(l.block) - 1; j > 0; j-- {
			if strings.EqualFold(l.block[j].savepoint, name) {
				l.out, l.block = l.block[j].out, l.block[:j+1]
				break
			}
		}
		return true
	}
	switch first, _ := firstWords(st.SQL); first {
	case "SAVEPOINT":
		l.block = append(l.block, savedLog{savepoint: savepointName(st.SQL), out: slices.Clip(l.out)})
		return true
	case "RELEASE":
		return true
	}
	return false
}

// result is the statements to send again, in order.
func (l *sessionLog) result() []replayed {
	return needed(l.out)
}

// rollbackTo returns the savepoint of a ROLLBACK [WORK | TRANSACTION] TO
// [SAVEPOINT] name.
func rollbackTo(sql string) (string, bool) {
	w := leadWords(sql, 5)
	if len(w) < 3 || w[0] != "ROLLBACK" {
		return "", false
	}
	w = w[1:]
	if w[0] == "WORK" || w[0] == "TRANSACTION" {
		w = w[1:]
	}
	if len(w) < 2 || w[0] != "TO" {
		return "", false
	}
	w = w[1:]
	if w[0] == "SAVEPOINT" && len(w) > 1 {
		w = w[1:]
	}
	return strings.Trim(w[0], `"`), true
}

// effect is what a statement does to the session, as sessionEffect sees it.
type effect struct {
	keys      []string          // what it sets, in lower case ("search_path", "@tenant", "use", "attach aux"): to send again
	reads     []string          // the variables its values read (MySQL's @x, @@x), as keys
	undoesAll func(string) bool // PostgreSQL's RESET ALL, DISCARD ALL: the settings whose keys it matches stay
	detach    string            // SQLite's DETACH: the schema it detaches
}

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
//   - SQLite's ATTACH, and the PRAGMAs that change what the connection's
//     statements do (foreign_keys, recursive_triggers, case_sensitive_like …).
//
// Not: what applies only in a transaction or to the next one (SET LOCAL,
// SET CONSTRAINTS, SET TRANSACTION), what outlives the session (SET GLOBAL,
// SET PERSIST, SET PASSWORD, SET DEFAULT ROLE), MariaDB's SET STATEMENT … FOR,
// which runs a statement, SET autocommit, which the script's own
// transactions decide (a resumed run starts at the statement that opened a
// transaction left unfinished), a SET of several variables of which one is
// not to be sent again, and what reads the data (SET @n = (SELECT …),
// SELECT … INTO @n).
func sessionEffect(d migration.Dialect, sql string) effect {
	if d == migration.MySQL {
		sql = versionCommentBody(sql)
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
		return effect{keys: []string{pgParameter(w[1:])}}
	case w[0] == "DISCARD" && d == migration.Postgres && len(w) > 1 && w[1] == "ALL":
		return effect{undoesAll: func(string) bool { return false }}
	case w[0] == "SELECT" && d == migration.Postgres:
		if name, ok := setConfig(sql); ok {
			return effect{keys: []string{name}}
		}
	case w[0] == "USE" && d == migration.MySQL:
		return effect{keys: []string{"use"}}
	case w[0] == "ATTACH" && d == migration.SQLite:
		if f := strings.Fields(sql); len(f) > 2 && strings.EqualFold(f[len(f)-2], "AS") {
			return effect{keys: []string{"attach " + strings.ToLower(strings.Trim(f[len(f)-1], "\"'`[];"))}}
		}
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
	}
	return effect{}
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
	case !constantValue(sql):
		return effect{} // a value PostgreSQL's SET does not take
	case name == "SESSION" && len(rest) > 1 && rest[1] == "CHARACTERISTICS":
		return effect{keys: characteristics(sql, "default_transaction_")}
	}
	return effect{keys: []string{pgParameter(rest)}}
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
	switch w[0] {
	case "NAMES", "CHARSET", "CHARACTER":
		if (w[0] == "CHARACTER" && (len(w) < 2 || w[1] != "SET")) || !constantValue(body) {
			return effect{}
		}
		return effect{keys: []string{"character_set_client", "character_set_connection", "character_set_results", "collation_connection"}}
	case "ROLE":
		if !constantValue(body) {
			return effect{}
		}
		return effect{keys: []string{"role"}}
	case "SESSION":
		if len(w) > 1 && w[1] == "TRANSACTION" {
			return effect{keys: characteristics(body, "transaction_")}
		}
	case "TRANSACTION", "PASSWORD", "DEFAULT", "STATEMENT", "GLOBAL", "PERSIST", "PERSIST_ONLY", "RESOURCE":
		return effect{}
	}
	var e effect
	for _, a := range migration.SplitTopLevel(body, ',') {
		k, reads, ok := mysqlAssignment(a)
		if !ok {
			return effect{}
		}
		e.keys = append(e.keys, k)
		e.reads = append(e.reads, reads...)
	}
	return e
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

// mysqlAssignment returns the key of one assignment of a MySQL SET
// ("foreign_key_checks", "@tenant") and the variables its value reads, and
// whether it is one to send again: of the session, not autocommit nor the
// transaction's, and of a constant.
func mysqlAssignment(a string) (string, []string, bool) {
	a = strings.TrimSpace(a)
	i := strings.IndexAny(a, ":=")
	if i <= 0 {
		return "", nil, false
	}
	target := strings.ToLower(strings.TrimSpace(a[:i]))
	value := strings.TrimPrefix(strings.TrimPrefix(a[i:], ":"), "=")
	if f := strings.Fields(target); len(f) == 2 {
		if f[0] != "session" && f[0] != "local" {
			return "", nil, false // GLOBAL, PERSIST, PERSIST_ONLY
		}
		target = f[1]
	} else if len(f) != 1 {
		return "", nil, false
	}
	target, ok := variable(target)
	if !ok || target == "" || target == "autocommit" || strings.HasPrefix(target, "transaction_") || strings.HasPrefix(target, "tx_") ||
		!constantValue(value) {
		return "", nil, false
	}
	return target, variablesRead(value), true
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
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '@':
			j := i + 1
			if j < len(v) && v[j] == '@' {
				j++
			}
			if j < len(v) && (v[j] == '\'' || v[j] == '"' || v[j] == '`') {
				if end := strings.IndexByte(v[j+1:], v[j]); end >= 0 {
					j += end + 2
				}
			}
			for j < len(v) && (v[j] == '_' || v[j] == '.' || v[j] == '$' || v[j] >= '0' && v[j] <= '9' || v[j]|0x20 >= 'a' && v[j]|0x20 <= 'z') {
				j++
			}
			if k, ok := variable(v[i:j]); ok {
				out = append(out, k)
			}
			i = j - 1
		}
	}
	return out
}

// constantValue reports whether a MySQL value is one that a new session
// computes the same: nothing in parentheses (a function call, a subquery)
// outside quotes, and none of the words whose value is the moment's or the
// session's own.
func constantValue(v string) bool {
	var quote byte
	start := -1
	for i := 0; i <= len(v); i++ {
		c := byte(' ')
		if i < len(v) {
			c = v[i]
		}
		if quote != 0 {
			if c == '\\' && quote != '`' {
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
		}
	}
	return quote == 0
}

// versionCommentBody returns what a MySQL executable comment (/*!40101 SET
// NAMES utf8 */, MariaDB's /*M!100101 … */) holds, or sql when it is not
// one.
func versionCommentBody(sql string) string {
	body, ok := strings.CutPrefix(sql, "/*!")
	if !ok {
		if body, ok = strings.CutPrefix(sql, "/*M!"); !ok {
			return sql
		}
	}
	body = strings.TrimLeft(body, "0123456789")
	body, _ = strings.CutSuffix(strings.TrimSpace(body), "*/")
	return strings.TrimSpace(body)
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
		"reverse_unordered_selects", "trusted_schema", "query_only":
		return name, true
	}
	return "", false
}

// replaySession sends again the statements of file that an earlier run
// applied and that set the session (see sessionSetters), before the run
// resumes at statement resumeAt+1.
func (r *Runner) replaySession(ctx context.Context, file string, replay []replayed, resumeAt int) error {
	for _, rp := range replay {
		if err := r.drv.Exec(ctx, rp.st); err != nil {
			return fmt.Errorf("%w: %s:%d: statement %d, which an earlier run applied and which sets the session, failed when sent again before resuming at statement %d: %w. "+
				"No statement from %d on ran, and the history row is as the earlier run left it. "+
				"What to do: make it work again in a new session (create what it names), "+
				"or undo by hand what the migration's first %d statements did and run `runway repair`, then `runway up`, which runs the migration from its start",
				ErrMigrationFailed, file, rp.st.Line, rp.number, resumeAt+1, err, resumeAt+1, resumeAt)
		}
	}
	return nil
}

// replayedNumbers are the numbers of replay's statements, for events and
// reports.
func replayedNumbers(replay []replayed) []int {
	if len(replay) == 0 {
		return nil
	}
	out := make([]int, len(replay))
	for i, rp := range replay {
		out[i] = rp.number
	}
	return out
}
