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
	// kill marks what the statement set from values that a new session
	// would not compute the same (effect.kills): it is not sent, and the
	// statements before it that set only its keys are not either.
	kill bool
	// unset marks a statement Runway wrote (SET @x = NULL, RESET x): it
	// unsets what the kill of statement number set, after a statement
	// sent again before it set it too (see sessionLog.result).
	unset bool
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
	lite    liteTx     // SQLite: the script's own transaction
}

// liteTx follows a SQLite script's transaction: PRAGMA foreign_keys does
// nothing inside one.
type liteTx struct {
	open        bool
	bySavepoint bool     // opened by a SAVEPOINT, which its RELEASE commits
	savepoints  []string // in upper case
}

type savedLog struct {
	savepoint string
	out       []replayed
}

// add notes statement number of the script.
func (l *sessionLog) add(number int, st migration.Statement) {
	switch l.d {
	case migration.Postgres:
		if l.txControl(st) {
			return
		}
	case migration.SQLite:
		l.lite.follow(st.SQL)
	}
	e := sessionEffect(l.d, st.SQL)
	if l.lite.open && slices.Equal(e.keys, []string{"pragma foreign_keys"}) {
		return // it does nothing in a transaction
	}
	for _, dr := range e.drops {
		// What the session was set to is gone: the server unsets it (MySQL's
		// DROP DATABASE of the database in use), or would refuse it in a new
		// session (SET ROLE of a dropped role).
		if l.lastSet(dr.key) == dr.name {
			e.kills = append(e.kills, dr.key)
		}
	}
	switch {
	case e.undoesAll != nil:
		l.out = slices.DeleteFunc(slices.Clone(l.out), func(r replayed) bool { return !slices.ContainsFunc(r.keys, e.undoesAll) })
	case e.detach != "":
		l.out = slices.DeleteFunc(slices.Clone(l.out), func(r replayed) bool { return slices.Contains(r.keys, "attach "+e.detach) })
	}
	if len(e.keys) > 0 {
		l.push(replayed{number: number, st: st, keys: e.keys, reads: e.reads})
	}
	if len(e.kills) > 0 {
		l.push(replayed{number: number, st: st, keys: e.kills, kill: true})
	}
}

// push appends r to the list, compacting it when it has doubled.
func (l *sessionLog) push(r replayed) {
	if len(l.block) > 0 {
		l.out = slices.Clip(l.out) // the block's saved lists keep theirs
	}
	l.out = append(l.out, r)
	if len(l.out) >= 2*max(l.compact, 64) {
		l.out = needed(l.out)
		l.compact = len(l.out)
	}
}

// lastSet returns the name that the last statement setting key set it to
// (see settingName), or "" when none did or the last one was a kill.
func (l *sessionLog) lastSet(key string) string {
	for i := len(l.out) - 1; i >= 0; i-- {
		if r := l.out[i]; slices.Contains(r.keys, key) {
			if r.kill {
				return ""
			}
			return settingName(l.d, key, r.st.SQL)
		}
	}
	return ""
}

// follow notes a statement of a SQLite script that may open or end its
// transaction.
func (t *liteTx) follow(sql string) {
	switch txControl(sql) {
	case "BEGIN":
		*t = liteTx{open: true}
		return
	case "COMMIT", "END", "ROLLBACK":
		*t = liteTx{}
		return
	}
	switch first, _ := firstWords(sql); first {
	case "SAVEPOINT":
		if !t.open {
			*t = liteTx{open: true, bySavepoint: true}
		}
		t.savepoints = append(t.savepoints, strings.ToUpper(savepointName(sql)))
	case "RELEASE":
		if i := slices.Index(t.savepoints, strings.ToUpper(savepointName(sql))); i >= 0 {
			t.savepoints = t.savepoints[:i]
			if i == 0 && t.bySavepoint {
				*t = liteTx{}
			}
		}
	}
}

// needed returns the statements of out that the session's state after all
// of them needs, in a new slice: going back from the last, a statement
// stays when it sets something that no statement kept after it sets again
// (or kills) without reading it first; a kill stays when a statement kept
// before it sets one of its keys.
func needed(out []replayed) []replayed {
	setLater := map[string]bool{} // set by a statement kept after, and not read since
	keep := make([]bool, len(out))
	unsets := map[int][]string{} // of a kill, the keys that no statement kept after it sets again
	n := 0
	for i := len(out) - 1; i >= 0; i-- {
		r := out[i]
		if r.kill {
			for _, k := range r.keys {
				if !setLater[k] {
					unsets[i] = append(unsets[i], k)
				}
				setLater[k] = true
			}
			continue // kept or not below
		}
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
	// A kill stays where a statement kept before it set one of its keys
	// (for another key it also set, or for a statement that reads it), and
	// none kept after it sets that key again, for result to unset the key
	// after it; with those keys alone.
	live := map[string]bool{}
	for i, r := range out {
		switch {
		case r.kill:
			var keys []string
			for _, k := range unsets[i] {
				if live[k] {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				delete(live, k) // the others stay live for a kill after it
			}
			unsets[i] = keys
			if len(keys) > 0 {
				keep[i] = true
				n++
			}
		case keep[i]:
			for _, k := range r.keys {
				live[k] = true
			}
		}
	}
	kept := make([]replayed, 0, n)
	for i, r := range out {
		if keep[i] {
			if r.kill {
				r.keys = unsets[i] // a copy: a block's saved list may hold r
			}
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
		if len(l.block) == 0 { // inside a block, PostgreSQL only warns
			l.block = []savedLog{{out: slices.Clip(l.out)}}
		}
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
	switch first, second := firstWords(st.SQL); first {
	case "SAVEPOINT":
		l.block = append(l.block, savedLog{savepoint: savepointName(st.SQL), out: slices.Clip(l.out)})
		return true
	case "RELEASE":
		// What was set since the savepoint stays, now part of the block or
		// savepoint before it.
		name := savepointName(st.SQL)
		for j := len(l.block) - 1; j > 0; j-- {
			if strings.EqualFold(l.block[j].savepoint, name) {
				l.block = l.block[:j]
				break
			}
		}
		return true
	case "PREPARE":
		if second == "TRANSACTION" { // the block ends, its settings kept as by COMMIT
			l.block = nil
			return true
		}
	}
	return false
}

// result is the statements to send again, in order. Where a statement
// sent again sets what a later statement set from a value not sent again
// (SET @p = 1, SET @b = @p, … SET @p = LAST_INSERT_ID()), what it set is
// unset after it, at the later statement's place, so that the resumed
// statements find it unset rather than holding the earlier value.
func (l *sessionLog) result() []replayed {
	var out []replayed
	live := map[string]bool{}
	for _, r := range needed(l.out) {
		if !r.kill {
			out = append(out, r)
			for _, k := range r.keys {
				live[k] = true
			}
			continue
		}
		var keys []string
		for _, k := range r.keys {
			if live[k] {
				keys = append(keys, k)
			}
			delete(live, k)
		}
		for _, sql := range unsetSQL(l.d, keys) {
			out = append(out, replayed{number: r.number, st: migration.Statement{SQL: sql, Line: r.st.Line}, keys: keys, unset: true})
		}
	}
	return out
}

// unsetSQL returns the statements that give keys, of dialect d, the value
// a new session has: MySQL's SET @x = NULL for a user variable;
// PostgreSQL's RESET, which returns to the value the session started with
// (the URL's options included). Not a MySQL system variable: its DEFAULT is
// the server's global value, not what the URL's parameters set when the
// session began, nor the role (a new session has the user's default role),
// nor a database in use; those are left as the statement sent again set
// them.
func unsetSQL(d migration.Dialect, keys []string) []string {
	var out, vars []string
	for _, k := range keys {
		switch {
		case d == migration.Postgres && k == "role":
			out = append(out, "RESET ROLE")
		case d == migration.Postgres && k == "session_authorization":
			out = append(out, "RESET SESSION AUTHORIZATION")
		case d == migration.Postgres && plainName(k, "._"):
			out = append(out, "RESET "+k)
		case d == migration.MySQL && strings.HasPrefix(k, "@"):
			vars = append(vars, "@`"+strings.ReplaceAll(k[1:], "`", "``")+"` = NULL")
		}
	}
	if len(vars) > 0 {
		out = append(out, "SET "+strings.Join(vars, ", "))
	}
	return out
}

// plainName reports whether k is made of lower-case ASCII letters, digits
// and the bytes of also alone, so that it can be written unquoted.
func plainName(k, also string) bool {
	return k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789"+also) == ""
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

// replaySession sends again the statements of file that an earlier run
// applied and that set the session (see sessionSetters), before the run
// resumes at statement resumeAt+1.
func (r *Runner) replaySession(ctx context.Context, file string, replay []replayed, resumeAt int) error {
	for _, rp := range replay {
		if err := r.drv.Exec(ctx, rp.st); err != nil {
			if rp.unset {
				return fmt.Errorf("%w: %s:%d: %s, which unsets what statement %d set from a value not sent again, failed before resuming at statement %d: %w. "+
					"No statement from %d on ran, and the history row is as the earlier run left it. "+
					"What to do: undo by hand what the migration's first %d statements did and run `runway repair`, then `runway up`, which runs the migration from its start",
					ErrMigrationFailed, file, rp.st.Line, rp.st.SQL, rp.number, resumeAt+1, err, resumeAt+1, resumeAt)
			}
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
// Runway's own unsets are not among them: plan shows those.
func replayedNumbers(replay []replayed) []int {
	var out []int
	for _, rp := range replay {
		if !rp.unset {
			out = append(out, rp.number)
		}
	}
	return out
}
