package runway

import (
	"context"
	"fmt"
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
// (setsSession), and only those.

// replayed is a statement an earlier run applied that a resumed run sends
// again before its first statement: number is its 1-based place in the
// script.
type replayed struct {
	number int
	st     migration.Statement
}

// sessionSetters returns the statements among applied (the first
// statements of a script, which an earlier run applied) that set the
// session, with their numbers.
func sessionSetters(d migration.Dialect, applied []migration.Statement) []replayed {
	var out []replayed
	for i, st := range applied {
		if setsSession(d, st.SQL) {
			out = append(out, replayed{number: i + 1, st: st})
		}
	}
	return out
}

// setsSession reports whether sql sets something that lasts for the rest of
// the session and that the statements after it may rely on, and that sending
// it again in a new session sets the same way without changing data:
//   - SET of a session parameter or variable (PostgreSQL: search_path,
//     lock_timeout, ROLE, SESSION AUTHORIZATION, TIME ZONE …; MySQL:
//     FOREIGN_KEY_CHECKS, sql_mode, NAMES, @user variables, @@session.x …),
//     also inside a MySQL /*!NNNNN … */ comment as mysqldump writes them;
//   - PostgreSQL's RESET and SELECT set_config(…) (pg_dump's search_path);
//   - MySQL's USE;
//   - SQLite's ATTACH and DETACH, and the PRAGMAs that change what the
//     connection's statements do (foreign_keys, recursive_triggers,
//     case_sensitive_like …).
//
// Not: what applies only in a transaction or to the next one (SET LOCAL,
// SET CONSTRAINTS, SET TRANSACTION), what outlives the session (SET GLOBAL,
// SET PERSIST, SET PASSWORD, SET DEFAULT ROLE), MariaDB's SET STATEMENT … FOR,
// which runs a statement, and SET autocommit, which the script's own
// transactions decide (a resumed run starts at the statement that opened a
// transaction left unfinished).
func setsSession(d migration.Dialect, sql string) bool {
	if d == migration.MySQL {
		sql = versionCommentBody(sql)
	}
	w := leadWords(sql, 3)
	if len(w) == 0 {
		return false
	}
	switch w[0] {
	case "SET":
		return len(w) > 1 && setsSessionParameter(w[1:])
	case "RESET":
		return d == migration.Postgres
	case "USE":
		return d == migration.MySQL
	case "SELECT":
		if d != migration.Postgres {
			return false
		}
		s := strings.ToLower(strings.Join(strings.Fields(sql), " "))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "select "), "pg_catalog.")
		return strings.HasPrefix(s, "set_config(") || strings.HasPrefix(s, "set_config (")
	case "ATTACH", "DETACH":
		return d == migration.SQLite
	case "PRAGMA":
		return d == migration.SQLite && sessionPragma(sql)
	}
	return false
}

// setsSessionParameter reports whether a SET whose following words (in upper
// case) are w sets the session.
func setsSessionParameter(w []string) bool {
	name, _, _ := strings.Cut(w[0], "=")
	switch name {
	case "LOCAL", "CONSTRAINTS", "TRANSACTION", "GLOBAL", "PERSIST", "PERSIST_ONLY", "PASSWORD", "DEFAULT", "STATEMENT":
		return false
	case "SESSION":
		if len(w) < 2 {
			return false
		}
		// SET SESSION AUTHORIZATION, SET SESSION CHARACTERISTICS (PostgreSQL)
		// and SET SESSION TRANSACTION (MySQL) set the session too.
		name, _, _ = strings.Cut(w[1], "=")
	}
	name = strings.TrimPrefix(name, "@@SESSION.")
	name = strings.TrimPrefix(name, "@@LOCAL.")
	switch {
	case strings.HasPrefix(name, "@@GLOBAL."), strings.HasPrefix(name, "@@PERSIST"),
		name == "AUTOCOMMIT", name == "@@AUTOCOMMIT",
		strings.HasPrefix(name, "TRANSACTION_"):
		return false
	}
	return true
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

// sessionPragma reports whether sql is a SQLite PRAGMA that sets one of the
// connection's settings that change what its statements do: those last for
// the connection and are not kept in the database file. Settings of speed
// alone (cache_size, synchronous, busy_timeout …) are not sent again.
func sessionPragma(sql string) bool {
	_, p, _ := strings.Cut(strings.ToLower(strings.TrimSpace(sql)), "pragma")
	p = strings.TrimPrefix(strings.TrimSpace(p), "main.")
	name, _, ok := strings.Cut(p, "=")
	if !ok {
		if name, _, ok = strings.Cut(p, "("); !ok {
			return false // a query of the setting
		}
	}
	switch strings.TrimSpace(name) {
	case "foreign_keys", "recursive_triggers", "case_sensitive_like", "ignore_check_constraints", "legacy_alter_table",
		"reverse_unordered_selects", "trusted_schema", "query_only":
		return true
	}
	return false
}

// replaySession sends again the statements of file that an earlier run
// applied and that set the session (see sessionSetters), before the run
// resumes at statement resumeAt+1.
func (r *Runner) replaySession(ctx context.Context, file string, replay []replayed, resumeAt int) error {
	for _, rp := range replay {
		if err := r.drv.Exec(ctx, rp.st); err != nil {
			return fmt.Errorf("%w: %s:%d: statement %d, which an earlier run applied and which sets the session, failed when sent again before resuming at statement %d (nothing else was run; the history row is as the earlier run left it): %w",
				ErrMigrationFailed, file, rp.st.Line, rp.number, resumeAt+1, err)
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
