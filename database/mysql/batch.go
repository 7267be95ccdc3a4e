package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

var _ database.RecordedExecer = (*Driver)(nil)

// Above these, ExecRecorded leaves a migration to the statement-by-statement
// path.
const (
	maxRecordedMessage    = 1 << 20 // bytes of SQL
	maxRecordedStatements = 200
)

// ExecRecorded applies a migration in one round trip: one multi-statement
// message with the running row, each statement followed by the update that
// records it, and the final applied update. MySQL runs the statements of the
// message in order and stops at the first error, so after a failure the row
// says exactly how many statements took effect; it is read back to name the
// failing one. Drivers made with New (an application's pool, which may not
// allow multiple statements) return errors.ErrUnsupported.
func (d *Driver) ExecRecorded(ctx context.Context, stmts []migration.Statement, running, done database.Revision) (int, error) {
	start := running.StatementsApplied
	if !d.multi || start >= len(stmts) {
		return start, errors.ErrUnsupported
	}
	// A big migration goes statement by statement: its round trips do not
	// count beside its statements, and the message stays far below
	// max_allowed_packet.
	size := 0
	for _, st := range stmts[start:] {
		size += len(st.SQL)
	}
	if size > maxRecordedMessage || len(stmts)-start > maxRecordedStatements {
		return start, errors.ErrUnsupported
	}
	conn, err := d.session(ctx)
	if err != nil {
		return start, err
	}
	table := d.table()
	version := lit(running.Version.String())
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + table + ` (version, name, checksum, state, applied_at, duration_ms, applied_by,
	statements_applied, statements_total, statement_checksums, error) VALUES (`)
	b.WriteString(version + ", " + lit(running.Name) + ", " + lit(running.Checksum) + ", " + lit(string(database.StateRunning)) +
		", UTC_TIMESTAMP(6), 0, " + lit(running.AppliedBy) + ", " + strconv.Itoa(start) + ", " + strconv.Itoa(len(stmts)) +
		", " + litOrNull(strings.Join(running.StatementChecksums, ",")) + ", NULL)")
	b.WriteString(` ON DUPLICATE KEY UPDATE name = VALUES(name), checksum = VALUES(checksum), state = VALUES(state),
	applied_at = VALUES(applied_at), duration_ms = 0, applied_by = VALUES(applied_by),
	statements_applied = VALUES(statements_applied), statements_total = VALUES(statements_total),
	statement_checksums = VALUES(statement_checksums), error = NULL;`)
	for i := start; i < len(stmts); i++ {
		// A newline before the terminator: a statement may end in a comment.
		b.WriteString("\n")
		b.WriteString(stmts[i].SQL)
		b.WriteString("\n;\n")
		// CONCAT_WS skips the NULL of an empty list.
		b.WriteString("UPDATE " + table + " SET statements_applied = " + strconv.Itoa(i+1) +
			", statement_checksums = CONCAT_WS(',', statement_checksums, " + lit(stmts[i].Checksum()) + ")")
		if i == len(stmts)-1 {
			b.WriteString(", state = " + lit(string(database.StateApplied)) + ", checksum = " + lit(done.Checksum) +
				", duration_ms = ROUND(TIMESTAMPDIFF(MICROSECOND, applied_at, UTC_TIMESTAMP(6)) / 1000), error = NULL")
		}
		b.WriteString(" WHERE version = " + version + ";")
	}
	if err := d.execSession(ctx, conn, b.String()); err != nil {
		// How far did it get? The row knows, when the session still works.
		var n sql.NullInt64
		var state sql.NullString
		rerr := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT statements_applied, state FROM "+table+" WHERE version = ?",
			running.Version.String()).Scan(&n, &state)
		switch {
		case rerr != nil:
			// The connection is gone: the caller cannot tell; report the
			// failure at the first statement not known to have run.
			return start, fmt.Errorf("mysql: applying %s: %w", running.Version, err)
		case state.String == string(database.StateApplied):
			return len(stmts), nil // every statement and the final update ran; the error came after
		case int(n.Int64) < len(stmts):
			return int(n.Int64), execError(0, 0, stmts[n.Int64], err)
		}
		return int(n.Int64), fmt.Errorf("mysql: applying %s: %w", running.Version, err)
	}
	return len(stmts), nil
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
