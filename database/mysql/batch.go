package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/internal/rawconn"
	"github.com/runwaydb/runway/migration"
)

var _ database.RecordedExecer = (*Driver)(nil)

// Above these, ExecRecorded leaves a migration to the statement-by-statement
// path.
const (
	maxRecordedMessage    = 1 << 20 // bytes of SQL
	maxRecordedStatements = 200
)

// maxEachMessage bounds the SQL of the migrations ExecRecordedEach sends
// together (one bigger than this still goes, alone). The server's work per
// statement grows with the bytes of the message left after it: on MariaDB
// 10.11, 1000 two-statement migrations took 1.15–1.2 s of server CPU in
// messages of 20–100 migrations (15–70 KB), 1.25–1.3 s in messages of 300,
// more in one message of all, and 1.2–1.4 s in one message each.
const maxEachMessage = 64 << 10

// ExecRecorded applies a migration in one round trip: one multi-statement
// message with the running row, each statement followed by the update that
// records it, and the final applied update. MySQL runs the statements of the
// message in order and stops at the first error, so after a failure the row
// says exactly how many statements took effect; it is read back to name the
// failing one. Drivers made with New (an application's pool, which may not
// allow multiple statements) return errors.ErrUnsupported.
func (d *Driver) ExecRecorded(ctx context.Context, stmts []migration.Statement, running, done database.Revision) (int, error) {
	start := running.StatementsApplied
	// Once the run may have turned autocommit off (a resumed migration's
	// SET autocommit = 0 sent again), every statement goes alone, where
	// its records get the COMMITs they then need and the migration's last
	// record waits for autocommit to be on again (see restoreAutocommit).
	if !d.multi || d.autocommit {
		return start, errors.ErrUnsupported
	}
	// A big migration goes statement by statement: its round trips do not
	// count beside its statements, and the message stays far below
	// max_allowed_packet.
	if _, ok := recordedSize(stmts, start); !ok {
		return start, errors.ErrUnsupported
	}
	conn, err := d.session(ctx)
	if err != nil {
		return start, err
	}
	table := d.table()
	var b strings.Builder
	w := d.wrapper()
	writeRecorded(&b, table, stmts, running, done, w.wrap)
	if d.tooLarge(1+b.Len()) != nil {
		return start, errors.ErrUnsupported // statement by statement (see tooLarge)
	}
	if err := d.querySession(ctx, conn, b.String(), func([]string) {}); err != nil {
		return d.howFar(ctx, conn, w, table, stmts, running, err)
	}
	return len(stmts), nil
}

// recordedSize returns the bytes of stmts[start:] and whether they may
// travel in one message.
func recordedSize(stmts []migration.Statement, start int) (int, bool) {
	if start >= len(stmts) || len(stmts)-start > maxRecordedStatements {
		return 0, false
	}
	size := 0
	for _, st := range stmts[start:] {
		// A migration that may turn autocommit off goes statement by
		// statement, where its last record waits for autocommit to be on
		// again (see restoreAutocommit).
		if travelsAlone(st.SQL) || mentionsAutocommit(st.SQL) {
			return 0, false
		}
		size += len(st.SQL)
	}
	return size, size <= maxRecordedMessage
}

// travelsAlone reports whether a statement is sent in a message of its own,
// without its record: one that may hold a body (mayHoldBody), or one that a
// server may skip whole (mayBeSkipped).
func travelsAlone(sql string) bool { return mayHoldBody(sql) || mayBeSkipped(sql) }

// mayBeSkipped reports whether a statement is, but for comments, one MySQL
// executable comment that some server skips whole: MariaDB skips the
// versions 50700 to 99999 (MySQL 5.7 and later), a server skips a version
// above its own, and MySQL reads MariaDB's /*M!…*/ as a comment. A server
// that skips it takes the statement for an empty one: sent alone that is no
// error, but followed by ";" and another statement in one message it is a
// syntax error near ";" (MariaDB 10.11, 1064), which would fail the
// migration at a line that does nothing, as mysqldump's /*!80000 SET …*/;
// and Percona's /*!50717 … */; lines loaded into MariaDB do. Versions below
// 50700 are run by every server Runway supports, and go with their records.
func mayBeSkipped(sql string) bool {
	if !strings.Contains(sql, "/*") {
		return false
	}
	rest, skipped := sql, false
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		switch {
		case rest == "":
			return skipped
		case strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "--") && (len(rest) == 2 || rest[2] <= ' '):
			nl := strings.IndexByte(rest, '\n')
			if nl < 0 {
				return skipped
			}
			rest = rest[nl+1:]
		case strings.HasPrefix(rest, "/*"):
			version, mariadb, _, _, executable := migration.ExecutableComment(rest)
			if executable && !(mariadb || len(version) > 5 || len(version) == 5 && version >= "50700") {
				return false // SQL every server runs: the statement is not empty
			}
			end := commentEnd(rest, executable)
			if end < 0 {
				return false
			}
			skipped = skipped || executable
			rest = rest[end:]
		default:
			return false
		}
	}
}

// commentEnd returns the offset just past the end of the comment that s
// starts with ("/*"), or -1 when it does not end. An executable comment may
// hold comments of its own, one level deep, which the server skips with it;
// a plain one ends at the first "*/".
func commentEnd(s string, nested bool) int {
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			if depth > 0 && !nested || depth > 1 {
				continue
			}
			depth++
			i++
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i++
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// mayHoldBody reports whether a statement may create a trigger, routine or
// event, or be a BEGIN NOT ATOMIC block: one whose semicolons the splitter
// judged to be inside a body. Such a statement is not sent in a message
// with others. Were the splitter wrong (a body cut short), the server
// would read the history updates that follow the piece as part of the body
// and store them in the trigger, to run on every insert; sent alone, the
// piece is a syntax error that stops the run at that statement. A false
// positive (a table with a column named event) costs a round trip.
func mayHoldBody(sql string) bool {
	head := sql[:min(len(sql), 512)]
	first := true
	for w := range strings.FieldsFuncSeq(head, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	}) {
		if first {
			// mysqldump's /*!50003 CREATE*/: the digits are no word.
			if !strings.EqualFold(w, "create") && !strings.EqualFold(w, "alter") && !strings.EqualFold(w, "begin") {
				return false
			}
			first = false
			continue
		}
		for _, k := range [...]string{"trigger", "procedure", "function", "event", "atomic"} {
			if strings.EqualFold(w, k) {
				return true
			}
		}
	}
	return false
}

// writeRecorded writes one migration of ExecRecorded's message: the running
// row, each statement from running.StatementsApplied followed by the update
// that records it, the last update finishing the row as applied.
func writeRecorded(b *strings.Builder, table string, stmts []migration.Statement, running, done database.Revision, wrap func(sql string) bool) {
	writeUpsert(b, table, nil, &running, len(stmts))
	b.WriteString(";")
	writeStatements(b, table, stmts, running, done, true, wrap)
}

// writeUpsert writes the INSERT … ON DUPLICATE KEY UPDATE that finishes
// prev as applied (when not nil) and writes next's running row (when not
// nil; total is its number of statements): one statement for both rows,
// where the rows of two migrations sent together meet. A running row
// replaces whatever row the version had (a failed attempt's) and starts its
// clock; an applied row keeps its start and gets its duration. The caller
// ends the statement (a RETURNING clause may follow).
func writeUpsert(b *strings.Builder, table string, prev *database.Recorded, next *database.Revision, total int) {
	b.WriteString(`INSERT INTO ` + table + ` (version, name, checksum, state, applied_at, duration_ms, applied_by,
	statements_applied, statements_total, statement_checksums, error) VALUES `)
	if prev != nil {
		// Its row exists: only the columns the update below takes from
		// VALUES matter, and the others repeat its running row.
		n := len(prev.Statements)
		writeRow(b, prev.Running, prev.Done.Checksum, database.StateApplied, n, n, database.SumsOf(prev.Statements).Column())
		if next != nil {
			b.WriteString(", ")
		}
	}
	if next != nil {
		writeRow(b, *next, next.Checksum, database.StateRunning, next.StatementsApplied, total, next.StatementChecksums)
	}
	// duration_ms before applied_at: the assignments run in order and see
	// the values set before them.
	applied := "VALUES(state) = " + lit(string(database.StateApplied))
	b.WriteString(` ON DUPLICATE KEY UPDATE name = VALUES(name), checksum = VALUES(checksum), state = VALUES(state),
	duration_ms = IF(` + applied + `, ROUND(TIMESTAMPDIFF(MICROSECOND, applied_at, UTC_TIMESTAMP(6)) / 1000), 0),
	applied_at = IF(` + applied + `, applied_at, VALUES(applied_at)), applied_by = VALUES(applied_by),
	statements_applied = VALUES(statements_applied), statements_total = VALUES(statements_total),
	statement_checksums = VALUES(statement_checksums), error = NULL`)
}

// writeRow writes one row of writeUpsert's VALUES.
func writeRow(b *strings.Builder, r database.Revision, checksum string, state database.State, applied, total int, sums []string) {
	b.WriteString("(" + lit(r.Version.String()) + ", " + lit(r.Name) + ", " + lit(checksum) + ", " + lit(string(state)) +
		", UTC_TIMESTAMP(6), 0, " + lit(r.AppliedBy) + ", " + strconv.Itoa(applied) + ", " + strconv.Itoa(total) +
		", " + litOrNull(strings.Join(sums, ",")) + ", NULL)")
}

// writeStatements writes stmts from running.StatementsApplied, each
// followed by the update that records it; a statement wrap takes goes in
// a transaction with its update (see ExecProgress). With finish, the last
// update finishes the row as applied; without, the last statement has
// none: the upsert that follows it (writeUpsert with the migration as prev)
// records it and finishes the row, and open says that the caller must end
// the statement's transaction after that upsert.
func writeStatements(b *strings.Builder, table string, stmts []migration.Statement, running, done database.Revision, finish bool, wrap func(sql string) bool) (open bool) {
	version := lit(running.Version.String())
	sums := database.SumsOf(stmts[:running.StatementsApplied])
	for i := running.StatementsApplied; i < len(stmts); i++ {
		inTx := wrap(stmts[i].SQL)
		if inTx {
			b.WriteString("\nSTART TRANSACTION;")
		}
		// A newline before the terminator: a statement may end in a comment.
		b.WriteString("\n")
		b.WriteString(stmts[i].SQL)
		b.WriteString("\n;\n")
		last := i == len(stmts)-1
		if last && !finish {
			return inTx
		}
		sums.Add(stmts[i].Checksum())
		// The whole list as a literal: appending to the column with
		// CONCAT_WS cost the server more (docs/benchmarks-history.md, "The round of
		// 2026-12-04, 11:30 UTC"), and the list stops growing at ListedSums.
		b.WriteString("UPDATE " + table + " SET statements_applied = " + strconv.Itoa(i+1) +
			", statement_checksums = " + lit(strings.Join(sums.Column(), ",")))
		if last {
			b.WriteString(", state = " + lit(string(database.StateApplied)) + ", checksum = " + lit(done.Checksum) +
				", duration_ms = ROUND(TIMESTAMPDIFF(MICROSECOND, applied_at, UTC_TIMESTAMP(6)) / 1000), error = NULL")
		}
		b.WriteString(" WHERE version = " + version + ";")
		if inTx {
			b.WriteString("\nCOMMIT;")
		}
	}
	return false
}

// stmtWrapper decides, statement by statement in the order they are sent,
// which ones go in a transaction with their record (see ExecProgress).
type stmtWrapper struct {
	d    *Driver
	used bool // a transaction was opened
}

func (d *Driver) wrapper() *stmtWrapper { return &stmtWrapper{d: d} }

func (w *stmtWrapper) wrap(sql string) bool {
	inTx := !w.d.userTx && changesData(sql)
	w.d.observe(sql)
	w.used = w.used || inTx
	return inTx
}

// rollback ends, after a failed message, a transaction it may have left
// open, once the row has been read: one of Runway's (see ExecProgress), or
// one the migration's own statements opened, which Runway never commits
// (the engine records where the migration resumes). It reports whether it
// sent the ROLLBACK.
func (w *stmtWrapper) rollback(ctx context.Context, conn *sql.Conn) bool {
	if w.used || w.d.userTx {
		w.d.execSession(context.WithoutCancel(ctx), conn, rollbackSQL)
		return true
	}
	return false
}

// howFar tells, after err stopped a message of writeRecorded's, how many
// of stmts have run: the row knows, when the session still works. It reads
// the row inside a transaction the message left open, where the row counts
// every statement that ran, then rolls that transaction back (w.rollback).
func (d *Driver) howFar(ctx context.Context, conn *sql.Conn, w *stmtWrapper, table string, stmts []migration.Statement, running database.Revision, err error) (int, error) {
	var n sql.NullInt64
	var state sql.NullString
	read := func() error {
		return conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT statements_applied, state FROM "+table+" WHERE version = ?",
			running.Version.String()).Scan(&n, &state)
	}
	rerr := read()
	if w.rollback(ctx, conn) && rerr == nil && state.String == string(database.StateApplied) {
		// Applied inside the transaction just rolled back (the COMMIT of
		// the last statement's failed): what stands is what committed.
		rerr = read()
	}
	switch {
	case rerr != nil:
		// The connection is gone: the caller cannot tell whether the
		// statement in flight took effect; report the failure at the first
		// statement not recorded, which the committed row counts when
		// another connection can read it.
		if c, cerr := d.committedApplied(ctx, running.Version); cerr == nil && c > running.StatementsApplied && c < len(stmts) {
			return c, execError(0, 0, stmts[c], err)
		}
		return running.StatementsApplied, fmt.Errorf("mysql: applying %s: %w", running.Version, err)
	case state.String == string(database.StateApplied):
		return len(stmts), nil // every statement and the final update ran; the error came after
	case int(n.Int64) < len(stmts):
		return int(n.Int64), execError(0, 0, stmts[n.Int64], err)
	}
	return int(n.Int64), fmt.Errorf("mysql: applying %s: %w", running.Version, err)
}

var _ database.RecordedBatcher = (*Driver)(nil)

// appliedMarker names the column of the result that follows each migration
// in ExecRecordedEach's message: it says the migration is applied. Its
// ending is drawn when the process starts, so that a migration's own result
// of a like name ("SELECT 1 AS runway_applied") is not taken for one: it
// had a migration reported applied while its row said running.
var appliedMarker = "runway_applied_" + strconv.FormatUint(rand.Uint64(), 36)

// ExecRecordedEach sends migrations in one multi-statement message, each as
// ExecRecorded writes it (but for the write that finishes one row and starts
// the next, see writeEach) and followed by a result named appliedMarker.
// MariaDB and MySQL send each statement's result as the statement ends, and
// the driver reads them as they come: a marker's result reports its
// migration applied.
func (d *Driver) ExecRecordedEach(ctx context.Context, ms []database.Recorded, done func(i int)) (int, int, error) {
	if len(ms) == 0 {
		return 0, 0, nil
	}
	if !d.multi || d.autocommit { // see ExecRecorded
		return 0, 0, errors.ErrUnsupported
	}
	total, take := 0, 0
	for _, m := range ms {
		size, ok := recordedSize(m.Statements, m.Running.StatementsApplied)
		if !ok || (take > 0 && total+size > maxEachMessage) {
			break
		}
		total += size
		take++
	}
	if take == 0 {
		return 0, 0, errors.ErrUnsupported
	}
	ms = ms[:take]
	conn, err := d.session(ctx)
	if err != nil {
		return 0, ms[0].Running.StatementsApplied, err
	}
	returning, err := d.serverReturns(ctx, conn)
	if err != nil {
		return 0, ms[0].Running.StatementsApplied, err
	}
	table := d.table()
	var b strings.Builder
	w := d.wrapper()
	writeEach(&b, table, ms, returning, w.wrap)
	if d.tooLarge(1+b.Len()) != nil {
		if len(ms) > 1 {
			return d.ExecRecordedEach(ctx, ms[:len(ms)/2], done) // see tooLarge
		}
		return 0, ms[0].Running.StatementsApplied, errors.ErrUnsupported
	}
	applied := 0
	stop := d.gather(ms)
	err = d.querySession(ctx, conn, b.String(), func(cols []string) {
		if len(cols) == 1 && cols[0] == appliedMarker && applied < len(ms) {
			applied++
			done(applied - 1)
		}
	})
	stop()
	if err == nil || applied == len(ms) {
		return applied, 0, err
	}
	m := ms[applied]
	n, err := d.howFar(ctx, conn, w, table, m.Statements, m.Running, err)
	if err == nil {
		// Its final update ran and the error came after: it is applied,
		// and those after it were not run.
		done(applied)
		return applied + 1, 0, nil
	}
	return applied, n, err
}

// writeEach writes ExecRecordedEach's message: each migration as
// writeRecorded writes it and a marker after the statement that finishes
// its row, except that the update finishing one migration and the running
// row of the next are one statement (writeUpsert with both): on MariaDB
// 10.11 a write to the history table between DDL statements costs the
// server ~170–190 µs, half of a small CREATE INDEX, and this takes one of
// the two or three a migration paid (docs/benchmarks-history.md, "The
// round of 2026-12-02, 11:55 UTC"). What the rows say
// at every point is unchanged: the next row is written as running before
// its first statement, and the previous one says how many of its statements
// ran until it is finished.
//
// The marker is a SELECT of appliedMarker, or, with returning (MariaDB),
// the RETURNING clause of that upsert, which saves the server a statement
// a migration (~4 % of W4; docs/benchmarks-history.md, "The round of
// 2026-12-04, 11:30 UTC"). Not when the upsert
// joins the transaction of the migration's last statement: its result
// would come before the COMMIT, and a migration whose COMMIT then failed
// would be reported applied; the SELECT after the COMMIT says it committed.
func writeEach(b *strings.Builder, table string, ms []database.Recorded, returning bool, wrap func(sql string) bool) {
	open := false // the last statement of ms[i-1] is in a transaction the upsert must join
	for i := range ms {
		var prev *database.Recorded
		if i > 0 {
			prev = &ms[i-1]
		}
		writeUpsert(b, table, prev, &ms[i].Running, len(ms[i].Statements))
		ret := i > 0 && returning && !open
		if ret {
			b.WriteString(" RETURNING " + strconv.Itoa(i-1) + " AS " + appliedMarker)
		}
		b.WriteString(";")
		if open {
			b.WriteString("\nCOMMIT;")
		}
		if i > 0 && !ret {
			writeMarker(b, i-1)
		}
		open = writeStatements(b, table, ms[i].Statements, ms[i].Running, ms[i].Done, i == len(ms)-1, wrap)
	}
	writeMarker(b, len(ms)-1)
}

// gatherTick is how often the answers to a message of many migrations are
// looked for while they come in (see gather).
const gatherTick = 4 * time.Millisecond

// gatherMinStatements is the least number of statements in a message for
// gather to take its answers a tick at a time. Each answer gathered spares
// the server ~20–25 µs, and a statement has two (its own and its history
// write's); the last answer may be seen up to a tick late, half of one on
// average: below this, what is spared does not make up for it.
const gatherMinStatements = 40

// gather has the session's socket take the answers to ExecRecordedEach's
// message of ms a tick at a time (rawconn.Gather) when the message has at
// least gatherMinStatements statements, and returns what undoes it. The
// server sends one answer as each statement ends, and on loopback its
// thread pays for waking this process each time: on MariaDB 10.11, 1000
// two-statement migrations took 12–15 % less wall time with their answers
// gathered (docs/benchmarks-history.md, "The round of 2026-12-04, 21:30
// UTC"). The markers of the migrations that finished within a tick come
// together, so each one's duration is known to a tick.
func (d *Driver) gather(ms []database.Recorded) (stop func()) {
	n := 0
	for _, m := range ms {
		n += len(m.Statements) - m.Running.StatementsApplied
	}
	return d.gatherN(n)
}

// gatherN is gather for a message of n statements of migrations, each with
// its history write.
func (d *Driver) gatherN(n int) (stop func()) {
	d.mu.Lock()
	nc := d.sessionNet
	d.mu.Unlock()
	if nc == nil || n < gatherMinStatements {
		return func() {}
	}
	return rawconn.Gather(nc, gatherTick)
}

func writeMarker(b *strings.Builder, i int) {
	b.WriteString("\nSELECT " + strconv.Itoa(i) + " AS " + appliedMarker + ";")
}

// lit writes s as a MySQL string literal that reads the same whatever the
// session's sql_mode (NO_BACKSLASH_ESCAPES) or quoting rules: a hex literal
// with the utf8mb4 introducer.
func lit(s string) string {
	if s == "" {
		return "''"
	}
	return "_utf8mb4 X'" + hex.EncodeToString([]byte(s)) + "'"
}

func litOrNull(s string) string {
	if s == "" {
		return "NULL"
	}
	return lit(s)
}

var _ database.ProgressExecer = (*Driver)(nil)

// ExecProgress sends stmt and the update recording it in one
// multi-statement message (see database.ProgressExecer): the server runs
// both, in order, even when the client is gone, so a statement it finishes
// after its runner was killed is recorded and not run again. A data change
// (INSERT, UPDATE, DELETE, REPLACE) travels in a transaction with its
// update, while no statement of the run has touched the session's
// transactions (see touchesTx): the two take effect together or not at
// all, in one commit instead of two. DDL commits by itself, so elsewhere the
// two are not one transaction: when the update fails after the statement,
// the error wraps database.ErrNotRecorded. A statement that may hold a body
// travels alone (see travelsAlone), as does any statement on a pool given to
// New: errors.ErrUnsupported.
func (d *Driver) ExecProgress(ctx context.Context, stmt migration.Statement, progress database.Revision) error {
	d.observe(stmt.SQL)
	if !d.multi || travelsAlone(stmt.SQL) {
		return errors.ErrUnsupported
	}
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	table := d.table()
	update, fits := d.progressMessage(table, stmt, progress)
	if !fits {
		return errors.ErrUnsupported // Exec sends it alone, or refuses it (tooLarge)
	}
	if !d.userTx && changesData(stmt.SQL) {
		return d.execProgressTx(ctx, conn, stmt, update)
	}
	// A newline before the terminator: the statement may end in a comment.
	mark, ran := d.ranMarker()
	msg := stmt.SQL + "\n;\n" + mark + ";\n" + update
	if d.autocommitOffAfter(stmt.SQL) {
		msg += ";\nCOMMIT"
	}
	err = d.querySession(ctx, conn, msg, func([]string) {})
	switch {
	case err == nil:
		return nil
	case ran(ctx, conn):
		return fmt.Errorf("%w: mysql: recording version %s in %s: %w", database.ErrNotRecorded, progress.Version, table, err)
	}
	return execError(0, 0, stmt, err)
}

// progressMessage returns the update that records stmt as progress says,
// and whether stmt, the update and the rest of ExecProgress's message stay
// below the server's max_allowed_packet (tooLarge).
func (d *Driver) progressMessage(table string, stmt migration.Statement, progress database.Revision) (string, bool) {
	var ub strings.Builder
	writeProgressUpdate(&ub, table, progress)
	update := ub.String()
	return update, d.tooLarge(1+len(stmt.SQL)+len(update)+progressOverhead) == nil
}

// progressOverhead bounds what ExecProgress sends with a statement besides
// its record: its marker, a COMMIT, the separators.
const progressOverhead = 256

// ranMarker returns a statement to send right after a migration's
// statement, and a check to make after the message failed: whether the
// marker, so the statement, ran. go-sql-driver reads past the results of
// statements that return no rows, so counting results cannot tell; the
// marker sets a user variable (no result to send, nothing to roll back) to
// a value of its own, read back only after a failure.
func (d *Driver) ranMarker() (string, func(ctx context.Context, conn *sql.Conn) bool) {
	d.marks++
	want := strconv.FormatInt(d.marks, 10)
	return "SET @runway_ran = " + want, func(ctx context.Context, conn *sql.Conn) bool {
		var got sql.NullString
		err := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT @runway_ran").Scan(&got)
		return err == nil && got.String == want
	}
}

// execProgressTx is ExecProgress for a data change: the statement and its
// update in one transaction. After a failure the transaction is rolled
// back: nothing of the statement stays, and the failure's own record,
// written next, is not caught in a transaction that never commits. Whether
// the statement or its update failed, it did not take effect: the error is
// the statement's, with the server's message (which names the history
// table when the update failed).
func (d *Driver) execProgressTx(ctx context.Context, conn *sql.Conn, stmt migration.Statement, update string) error {
	err := d.querySession(ctx, conn, "START TRANSACTION;\n"+stmt.SQL+"\n;\n"+update+";\nCOMMIT", func([]string) {})
	if err == nil {
		return nil
	}
	// A session the cancel killed rolled back already; this fails then.
	d.execSession(context.WithoutCancel(ctx), conn, rollbackSQL)
	return execError(0, 0, stmt, err)
}

var _ database.ProgressBatcher = (*Driver)(nil)

// ExecProgressEach sends steps in one multi-statement message, each as
// ExecProgress sends one (see database.ProgressBatcher): a data change in a
// transaction with the update that records it, any other statement followed
// by a marker and its update. The server stops at the first statement that
// fails; the row and the last marker that ran then tell how far it got.
// Statements go while the message stays within maxEachMessage, at least
// one; it stops before a statement that ExecProgress sends alone (see
// travelsAlone) or one that may turn autocommit off, and once the run
// may have turned it off, every statement goes alone, where ExecProgress
// adds the COMMITs that its records then need.
func (d *Driver) ExecProgressEach(ctx context.Context, steps []database.Progress, sending func(n int)) (int, error) {
	if !d.multi || d.autocommit || len(steps) == 0 {
		return 0, errors.ErrUnsupported
	}
	// The sizes first: a statement that goes alone anyway (a large one, as
	// in a dump) is not scanned here before ExecProgress scans it.
	take, size := 1, len(steps[0].Statement.SQL)
	for take < len(steps) && size+len(steps[take].Statement.SQL) <= maxEachMessage {
		size += len(steps[take].Statement.SQL)
		take++
	}
	for i := 0; take > 1 && i < take; i++ {
		if sql := steps[i].Statement.SQL; travelsAlone(sql) || mentionsAutocommit(sql) {
			if i == 0 {
				return 0, errors.ErrUnsupported
			}
			take = i
		}
	}
	if take == 1 {
		if travelsAlone(steps[0].Statement.SQL) {
			return 0, errors.ErrUnsupported // as ExecProgress would, having done nothing
		}
		if _, fits := d.progressMessage(d.table(), steps[0].Statement, steps[0].Row); !fits {
			return 0, errors.ErrUnsupported // as ExecProgress would: not a start to announce
		}
		sending(1)
		if err := d.ExecProgress(ctx, steps[0].Statement, steps[0].Row); err != nil {
			return 0, err
		}
		return 1, nil
	}
	steps = steps[:take]
	conn, err := d.session(ctx)
	if err != nil {
		return 0, err
	}
	table := d.table()
	w := d.wrapper()
	// marks[i] is the marker set after steps[i] when it is not in a
	// transaction with its update; 0 when it is.
	marks := make([]int64, take)
	var b strings.Builder
	b.Grow(size + take*200)
	for i, s := range steps {
		inTx := w.wrap(s.Statement.SQL)
		if inTx {
			b.WriteString("START TRANSACTION;\n")
		}
		// A newline before the terminator: a statement may end in a comment.
		b.WriteString(s.Statement.SQL)
		b.WriteString("\n;\n")
		if !inTx {
			d.marks++
			marks[i] = d.marks
			b.WriteString("SET @runway_ran = " + strconv.FormatInt(d.marks, 10) + ";\n")
		}
		writeProgressUpdate(&b, table, s.Row)
		b.WriteString(";\n")
		if inTx {
			b.WriteString("COMMIT;\n")
		}
	}
	if d.tooLarge(1+b.Len()) != nil {
		return d.ExecProgressEach(ctx, steps[:take/2], sending) // see tooLarge
	}
	sending(take)
	stop := d.gatherN(2 * take)
	err = d.querySession(ctx, conn, b.String(), func([]string) {})
	stop()
	if err == nil {
		return take, nil
	}
	return d.howFarEach(ctx, conn, w, table, steps, marks, err)
}

// writeProgressUpdate writes the UPDATE that records row's progress (see
// ExecProgress), without its terminator.
func writeProgressUpdate(b *strings.Builder, table string, row database.Revision) {
	b.WriteString("UPDATE " + table + " SET statements_applied = " + strconv.Itoa(row.StatementsApplied) +
		", statement_checksums = " + litOrNull(strings.Join(row.StatementChecksums, ",")) +
		" WHERE version = " + lit(row.Version.String()))
}

// howFarEach tells, after err stopped ExecProgressEach's message of steps,
// how many of them took effect with their rows, as howFar does for
// ExecRecorded: the row, read inside a transaction the message left open,
// counts every statement that ran, and the marker of the last statement
// outside a transaction that ran tells one that ran from one that failed
// when its update did not follow. That transaction is then rolled back
// (w.rollback); when it was the script's own, the engine reads the row
// again and reports what the rollback undid. When the session no longer
// answers, nothing is known: the error is steps[0]'s, as ExecProgress's
// would be.
func (d *Driver) howFarEach(ctx context.Context, conn *sql.Conn, w *stmtWrapper, table string, steps []database.Progress, marks []int64, err error) (int, error) {
	// The row before steps[0] counted one statement fewer than steps[0]'s.
	base := steps[0].Row.StatementsApplied - 1
	var applied, ran sql.NullInt64
	read := func() error {
		return conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT statements_applied, @runway_ran FROM "+table+" WHERE version = ?",
			steps[0].Row.Version.String()).Scan(&applied, &ran)
	}
	rerr := read()
	if w.rollback(ctx, conn) && rerr == nil && int(applied.Int64)-base >= len(steps) {
		// Every record ran inside the transaction just rolled back (the
		// last COMMIT failed): what stands is what committed.
		rerr = read()
	}
	if rerr != nil {
		// The session is gone (a cancel killed it): its transaction went
		// with it, and the committed row counts the statements recorded.
		// Whether the next one took effect is not known; the error says so.
		c, cerr := d.committedApplied(ctx, steps[0].Row.Version)
		if n := c - base; cerr == nil && n > 0 && n < len(steps) {
			return n, execError(0, 0, steps[n].Statement, err)
		}
		return 0, execError(0, 0, steps[0].Statement, err)
	}
	n := int(applied.Int64) - base
	switch {
	case n < 0:
		return 0, execError(0, 0, steps[0].Statement, err)
	case n >= len(steps):
		// Every statement and its record took effect; the error came after.
		return len(steps), nil
	case marks[n] != 0 && ran.Valid && ran.Int64 == marks[n]:
		return n, fmt.Errorf("%w: mysql: recording version %s in %s: %w", database.ErrNotRecorded, steps[n].Row.Version, table, err)
	}
	return n, execError(0, 0, steps[n].Statement, err)
}

// committedApplied reads, from another connection of the pool, how many
// statements of version the committed history row counts: after the run's
// session was killed under a message, what the message recorded. Only
// once the session was seen to leave the server: before that, it may still
// be writing, and the server may not be answering at all.
func (d *Driver) committedApplied(ctx context.Context, version migration.Version) (int, error) {
	if !d.killed.Load() {
		return 0, errors.New("mysql: the session was not seen to end")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	var n int
	err := d.db.QueryRowContext(rctx, "SELECT statements_applied FROM "+d.table()+" WHERE version = ?", version.String()).Scan(&n)
	return n, err
}

// observe notes a statement of a migration that the session runs: once one
// may have touched the session's transactions (touchesTx), ExecProgress
// sends no statement in a transaction of its own any more, whose START
// TRANSACTION would commit the script's.
func (d *Driver) observe(sql string) {
	if !d.userTx && touchesTx(sql) {
		d.userTx = true
	}
	if mentionsAutocommit(sql) {
		d.autocommit = true
	}
}

// touchesTx reports whether a statement may open, end or change the
// session's transactions, or what Runway's COMMIT does. It errs on the side
// of yes: only statements known not to (DDL, data changes and reads, USE,
// grants, table maintenance, and SET but for autocommit, the transaction's
// characteristics and completion_type) say no; a statement that starts with
// an executable comment (mysqldump's /*!40101 SET … */) says no only when
// none of the words that could matter is in it.
func touchesTx(sql string) bool {
	switch strings.ToUpper(firstWord(sql)) {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD",
		"SELECT", "WITH", "VALUES", "TABLE", "DO", "USE", "GRANT", "REVOKE", "ANALYZE", "OPTIMIZE", "CHECK", "REPAIR":
		return false
	case "SET":
		return containsAny(strings.ToUpper(sql), "AUTOCOMMIT", "TRANSACTION", "COMPLETION_TYPE")
	case "":
		return containsAny(strings.ToUpper(sql), "BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "XA",
			"CALL", "LOCK", "TRANSACTION", "COMPLETION_TYPE", "PREPARE", "EXECUTE")
	}
	return true
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// changesData reports whether a statement is a plain data change, which
// InnoDB runs inside a transaction (DDL commits by itself).
func changesData(sql string) bool {
	switch strings.ToUpper(firstWord(sql)) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return true
	}
	return false
}

// firstWord returns the statement's first keyword, after blanks and
// comments; "" when it starts with anything else, such as an executable
// comment (/*!40101 … */, MariaDB's /*M!100616 … */), which the server runs.
func firstWord(sql string) string {
	w, _ := nextWord(sql)
	return w
}

// nextWord returns the first keyword of sql, after blanks and comments, as
// firstWord does, and the text after it.
func nextWord(sql string) (word, rest string) {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "/*!") || strings.HasPrefix(s, "/*M!"):
			return "", s
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s[2:], "*/")
			if end < 0 {
				return "", ""
			}
			s = s[2+end+2:]
		case strings.HasPrefix(s, "--") || strings.HasPrefix(s, "#"):
			nl := strings.IndexByte(s, '\n')
			if nl < 0 {
				return "", ""
			}
			s = s[nl+1:]
		default:
			n := 0
			for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] == '_') {
				n++
			}
			return s[:n], s[n:]
		}
	}
}

// RollbackOpen rolls back a transaction that a migration's own statements
// opened (START TRANSACTION, or SET autocommit = 0) and left open when one
// of them failed, and turns autocommit back on, so that the failure's
// record, written next in the same session, commits. With no transaction
// open it does nothing.
func (d *Driver) RollbackOpen(ctx context.Context) error {
	conn, err := d.session(ctx)
	if err != nil {
		return err
	}
	if err := d.execSession(ctx, conn, rollbackSQL); err != nil {
		return fmt.Errorf("mysql: rollback: %w", err)
	}
	if err := d.execSession(ctx, conn, "SET autocommit = 1"); err != nil {
		return fmt.Errorf("mysql: rollback: %w", err)
	}
	d.autocommit = false
	return nil
}

// rollbackSQL ends a transaction after a failure: whatever completion_type
// the script set, without opening the next one (which would catch the
// failure's record) or closing the session (and the lock with it).
const rollbackSQL = "ROLLBACK AND NO CHAIN NO RELEASE"

// autocommitOffAfter reports whether, after sql ran, the update recording
// it must be followed by a COMMIT of its own: a migration of the run may
// have turned autocommit off (see restoreAutocommit), and sql commits
// implicitly (DDL), so that nothing of the script's is open after it and
// the update starts a transaction nobody would commit. A rollback after a
// later failure would take the record back while the DDL stays, and the
// rerun would run the DDL again. Only statements known to commit count: a
// COMMIT after anything else could commit the script's transaction early.
// A DDL statement in an executable comment (mysqldump's /*!50001 CREATE
// VIEW … */) counts, read as the server reads it.
func (d *Driver) autocommitOffAfter(sql string) bool {
	if !d.autocommit {
		return false
	}
	if strings.Contains(sql[:min(len(sql), 512)], "/*") {
		// Comments read as the server reads them, an executable comment's
		// text kept where the server runs it (a dump's versions are old:
		// /*!40000 ALTER TABLE … */, CREATE /*!32302 TEMPORARY */ TABLE)
		// and dropped where it does not. Text that cannot be read gets no
		// COMMIT, which could commit the script's own work early.
		var ok bool
		if sql, ok = migration.ReadComments(migration.MySQL, sql); !ok {
			return false
		}
	}
	return commitsAfter(sql)
}

// endsTx reports whether sql, a COMMIT or a ROLLBACK, is the script's own
// end of its transaction, after which none is open: COMMIT|ROLLBACK [WORK]
// [AND NO CHAIN] [[NO] RELEASE], read word by word once every comment is
// out. AND CHAIN opens the next transaction, and ROLLBACK … TO goes back to
// a savepoint within it; anything else, or text that cannot be read, is
// not taken for one (a COMMIT after it could commit the script's work).
// Committed, the record of the last statement of a script under autocommit
// off (its COMMIT) stays when the session is lost before Runway's last
// write.
func endsTx(sql string) bool {
	clean, ok := migration.ReadComments(migration.MySQL, sql)
	if !ok {
		return false
	}
	// Quotes and backquotes separate words too (ROLLBACK TO`sp`).
	words := strings.FieldsFunc(strings.ToUpper(clean), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '$' || r > 0x7f)
	})
	if len(words) == 0 || words[0] != "COMMIT" && words[0] != "ROLLBACK" {
		return false
	}
	words = words[1:]
	if len(words) > 0 && words[0] == "WORK" {
		words = words[1:]
	}
	if len(words) >= 3 && words[0] == "AND" && words[1] == "NO" && words[2] == "CHAIN" {
		words = words[3:]
	}
	if len(words) > 0 && words[0] == "NO" {
		words = words[1:]
		if len(words) == 0 || words[0] != "RELEASE" {
			return false
		}
	}
	if len(words) > 0 && words[0] == "RELEASE" {
		words = words[1:]
	}
	return len(words) == 0
}

// commitsAfter reports whether sql leaves no transaction open once it has
// run: the statements that commit implicitly and run outside the
// transaction they ended (MariaDB 10.11's @@in_transaction is 0 after each
// of them, the changes before them stay after a ROLLBACK), and COMMIT and
// ROLLBACK themselves. BEGIN, START
// TRANSACTION and LOCK TABLES commit only before (the first two open the
// next transaction); CACHE INDEX, LOAD INDEX INTO CACHE and CHECKSUM TABLE
// leave MariaDB's transaction open; neither they nor anything unknown count.
func commitsAfter(sql string) bool {
	first, rest := nextWord(sql)
	second, rest2 := nextWord(rest)
	switch strings.ToUpper(first) {
	case "CREATE", "DROP": // not CREATE [OR REPLACE] or DROP TEMPORARY TABLE
		if strings.EqualFold(second, "OR") {
			_, rest2 = nextWord(rest2) // REPLACE
			second, rest2 = nextWord(rest2)
		}
		if !strings.EqualFold(second, "TEMPORARY") {
			return true
		}
		// MariaDB's CREATE TEMPORARY SEQUENCE commits as DDL does
		// (@@in_transaction is 0 after it); DROP TEMPORARY SEQUENCE does not.
		third, _ := nextWord(rest2)
		return strings.EqualFold(first, "CREATE") && strings.EqualFold(third, "SEQUENCE")
	case "ALTER", "RENAME", "TRUNCATE",
		// The grant tables, plugins, caches and server state.
		"GRANT", "REVOKE", "INSTALL", "UNINSTALL", "FLUSH":
		return true
	case "SET": // the grant tables again
		if inner, ok := migration.StatementFor(sql); ok {
			return commitsAfter(inner) // MariaDB's SET STATEMENT … FOR ALTER TABLE …
		}
		s := strings.ToUpper(second)
		return s == "PASSWORD" || s == "DEFAULT" && strings.EqualFold(firstWord(rest2), "ROLE")
	case "COMMIT", "ROLLBACK":
		return endsTx(sql)
	case "RESET": // RESET QUERY CACHE, MASTER, SLAVE …; not MySQL's RESET PERSIST
		return second != "" && !strings.EqualFold(second, "PERSIST")
	case "ANALYZE", "CHECK", "OPTIMIZE", "REPAIR":
		// The table maintenance statements; not MariaDB's ANALYZE SELECT
		// or MySQL's CHECKSUM TABLE (another first word).
		if s := strings.ToUpper(second); s == "NO_WRITE_TO_BINLOG" || s == "LOCAL" {
			second = firstWord(rest2)
		}
		switch strings.ToUpper(second) {
		case "TABLE", "TABLES", "VIEW":
			return true
		}
	}
	return false
}
