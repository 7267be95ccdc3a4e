package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/migration"
)

// createRaceCodes are the errors of a CREATE TABLE IF NOT EXISTS that lost a
// race with another session's: unique_violation on the catalog,
// duplicate_table, or duplicate_object for the table's row type.
var createRaceCodes = []string{"23505", "42P07", "42710"}

const historyColumns = `version, name, checksum, state, applied_at, duration_ms, applied_by,
	statements_applied, statements_total, statement_checksums, error`

// EnsureHistory creates the history table when it does not exist. Its schema
// must exist. Two sessions racing to create it both succeed.
func (d *Driver) EnsureHistory(ctx context.Context) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	sql := `CREATE TABLE IF NOT EXISTS ` + d.table + ` (
	version text PRIMARY KEY,
	name text NOT NULL DEFAULT '',
	checksum text NOT NULL DEFAULT '',
	state text NOT NULL,
	applied_at timestamptz NOT NULL,
	duration_ms bigint NOT NULL DEFAULT 0,
	applied_by text NOT NULL DEFAULT '',
	statements_applied integer NOT NULL DEFAULT 0,
	statements_total integer NOT NULL DEFAULT 0,
	statement_checksums text NOT NULL DEFAULT '',
	error text NOT NULL DEFAULT ''
)`
	err := d.simple(ctx, sql)
	// IF NOT EXISTS does not cover a concurrent creation: the loser fails on
	// the catalog's unique index once the winner commits. By then the table
	// is there and a second attempt is a no-op.
	for i := 0; i < 3 && isCode(err, createRaceCodes...); i++ {
		err = d.simple(ctx, sql)
	}
	if isCode(err, "3F000") { // invalid_schema_name
		return fmt.Errorf("%w: postgres: history table %s: its schema does not exist: create it (CREATE SCHEMA), or name a table in an existing schema (--table): %w", database.ErrConfig, d.table, err)
	}
	if isCode(err, "42501") { // insufficient_privilege: no CREATE on the schema
		return fmt.Errorf("%w: postgres: history table %s: the role Runway connects as may not create it: grant it CREATE on the table's schema (GRANT CREATE ON SCHEMA … TO …), "+
			"or create the table beforehand and grant the role SELECT, INSERT, UPDATE and DELETE on it, or name a table in a schema the role may create in (--table): %w", database.ErrConfig, d.table, err)
	}
	if err != nil {
		return fmt.Errorf("postgres: creating history table %s: %w", d.table, err)
	}
	return nil
}

// History returns the history table's rows; none when the table (or its
// schema) does not exist.
func (d *Driver) History(ctx context.Context) ([]database.Revision, error) {
	if d.tableErr != nil {
		return nil, d.tableErr
	}
	// As a COPY when the session writes timestamps in ISO (DateStyle's
	// default), which isoTimestamptz reads; anything it cannot read (or a
	// refused COPY) is read again with the SELECT below, which also names
	// what is wrong with a row.
	if strings.HasPrefix(d.pg.ParameterStatus("DateStyle"), "ISO") {
		var out []database.Revision
		refused, err := d.copyRows(ctx, historyColumns, 11, func(row [][]byte) error {
			r, err := revisionFromRow(row, textTimestamptz)
			if err != nil {
				return errUnread
			}
			out = appendRevision(out, r)
			return nil
		})
		if err == nil {
			return out, nil
		}
		if !refused && !errors.Is(err, errUnread) {
			return nil, err
		}
	}
	d.selectReads++
	// One unnamed statement (no prepared statement left behind for a
	// pooler), text results except applied_at, which comes in binary:
	// microseconds since 2000-01-01 UTC, whatever the session's DateStyle
	// and TimeZone, and no conversion for the server to make (turning a
	// thousand timestamps into text or numbers costs it more than the rest
	// of the query).
	var out []database.Revision
	err := d.eachRow(ctx, `SELECT version, coalesce(name, ''), coalesce(checksum, ''), coalesce(state, ''),
	applied_at, coalesce(duration_ms, 0), coalesce(applied_by, ''),
	coalesce(statements_applied, 0), coalesce(statements_total, 0), coalesce(statement_checksums, ''), coalesce(error, '')
FROM `+d.table, historyFormats, func(row [][]byte) error {
		r, err := revisionFromRow(row, timestamptz)
		out = appendRevision(out, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errUnread: a row of the history's COPY that History reads with a SELECT.
var errUnread = errors.New("a row the COPY's text does not say exactly")

// historyFormats are History's result formats: binary (1) for applied_at.
var historyFormats = []int16{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}

// eachRow runs one SELECT as an unnamed statement and calls fn with each
// row's values (text, or binary where formats says 1), which are valid only
// during the call: rows are decoded as they arrive instead of being copied
// into a result set first. A missing table or schema is no rows. An error
// from fn stops the reading (the rest of the result is drained) and is
// returned with the table named.
func (d *Driver) eachRow(ctx context.Context, sql string, formats []int16, fn func(row [][]byte) error) error {
	rr := d.pg.ExecParams(ctx, sql, nil, nil, nil, formats)
	var ferr error
	for ferr == nil && rr.NextRow() {
		ferr = fn(rr.Values())
	}
	if _, err := rr.Close(); err != nil {
		return d.historyError(err)
	}
	if ferr != nil {
		return fmt.Errorf("postgres: reading %s: %w", d.table, ferr)
	}
	return nil
}

// States returns the history's versions, checksums and states (see
// database.StateReader); none when the table does not exist.
func (d *Driver) States(ctx context.Context) ([]database.Revision, error) {
	return database.ReadStates(ctx, d)
}

// ScanStates passes each history row's version, checksum and state to fn
// (see database.StateScanner); no rows when the table does not exist.
func (d *Driver) ScanStates(ctx context.Context, fn func(version, checksum, state []byte) error) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	refused, err := d.copyRows(ctx, "version, checksum, state", 3, func(row [][]byte) error {
		return fn(row[0], row[1], row[2])
	})
	if !refused {
		return err
	}
	d.selectReads++
	return d.eachRow(ctx, `SELECT version, coalesce(checksum, ''), coalesce(state, '') FROM `+d.table, nil, func(row [][]byte) error {
		if len(row) != 3 {
			return fmt.Errorf("%d columns, want 3", len(row))
		}
		return fn(row[0], row[1], row[2])
	})
}

// appendRevision appends r to revs, doubling the capacity when it is full:
// the row count is not known until the last row, and append's own growth
// (1.25x past 256 elements) would allocate a thousand-row history about
// three times over, enough to make a short command start a garbage
// collection it then waits for.
func appendRevision(revs []database.Revision, r database.Revision) []database.Revision {
	if len(revs) == cap(revs) {
		grown := make([]database.Revision, len(revs), max(64, 2*len(revs)))
		copy(grown, revs)
		revs = grown
	}
	return append(revs, r)
}

func revisionFromRow(row [][]byte, at func([]byte) (time.Time, error)) (database.Revision, error) {
	var r database.Revision
	if len(row) != 11 {
		return r, fmt.Errorf("%d columns, want 11", len(row))
	}
	var err error
	num := func(b []byte) int64 {
		if b == nil {
			return 0 // NULL in a COPY
		}
		n, e := strconv.ParseInt(string(b), 10, 64)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	if r.Version, err = migration.ParseVersion(string(row[0])); err != nil {
		return r, fmt.Errorf("row with version %q: %w", row[0], err)
	}
	r.Name = string(row[1])
	r.Checksum = string(row[2])
	r.State = database.State(row[3])
	if r.AppliedAt, err = at(row[4]); err != nil {
		return r, fmt.Errorf("version %s: applied_at: %w", r.Version, err)
	}
	r.Duration = time.Duration(num(row[5])) * time.Millisecond
	r.AppliedBy = string(row[6])
	r.StatementsApplied = int(num(row[7]))
	r.StatementsTotal = int(num(row[8]))
	if len(row[9]) > 0 {
		r.StatementChecksums = strings.Split(string(row[9]), ",")
	}
	r.Error = string(row[10])
	if err != nil {
		return r, fmt.Errorf("version %s: %w", r.Version, err)
	}
	return r, nil
}

// pgEpoch is where PostgreSQL's binary timestamps count from, 2000-01-01
// UTC, in Unix seconds.
const pgEpoch = 946684800

// timestamptz decodes a binary timestamptz: big-endian microseconds since
// 2000-01-01 UTC. NULL reads as the Unix epoch, as the text query's
// coalesce to 0 did; ±infinity are refused (Runway never writes them).
func timestamptz(b []byte) (time.Time, error) {
	if b == nil {
		return time.UnixMicro(0).UTC(), nil
	}
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("%d bytes, want 8", len(b))
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, errors.New("it is ±infinity, which Runway never writes: set applied_at in that row to when the migration ran")
	}
	return time.Unix(pgEpoch+us/1e6, us%1e6*1e3).UTC(), nil
}

// textTimestamptz is timestamptz for applied_at in a COPY's text, written
// in DateStyle ISO (see isoTimestamptz); NULL reads as the Unix epoch.
func textTimestamptz(b []byte) (time.Time, error) {
	if b == nil {
		return time.UnixMicro(0).UTC(), nil
	}
	t, ok := isoTimestamptz(b)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an ISO timestamp", b)
	}
	return t, nil
}

func (d *Driver) historyError(err error) error {
	// 42P01 undefined_table, 3F000 invalid_schema_name: no history yet.
	if isCode(err, "42P01", "3F000") {
		return nil
	}
	return fmt.Errorf("postgres: reading %s: %w", d.table, err)
}

// WriteRevision inserts r or replaces the row with its version.
func (d *Driver) WriteRevision(ctx context.Context, r database.Revision) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	sql, err := d.upsertSQL(&r)
	if err != nil {
		return err
	}
	if err := d.guarded(ctx, sql); err != nil {
		return fmt.Errorf("postgres: recording version %s in %s: %w", r.Version, d.table, refusedWrite(err))
	}
	return nil
}

// RemoveRevision deletes the row with version v, if any.
func (d *Driver) RemoveRevision(ctx context.Context, v migration.Version) error {
	if d.tableErr != nil {
		return d.tableErr
	}
	if err := d.guarded(ctx, d.deleteSQL(v)); err != nil {
		return fmt.Errorf("postgres: removing version %s from %s: %w", v, d.table, refusedWrite(err))
	}
	return nil
}

// upsertSQL is the INSERT … ON CONFLICT recording r, with every value an
// escaped literal so it can travel inside a multi-statement simple query.
func (d *Driver) upsertSQL(r *database.Revision) (string, error) {
	return d.upsertWith(r, quote(r.AppliedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")),
		strconv.FormatInt(r.Duration.Milliseconds(), 10))
}

// upsertWith is upsertSQL with applied_at and duration_ms given as SQL
// expressions.
func (d *Driver) upsertWith(r *database.Revision, appliedAt, durationMS string) (string, error) {
	if r.Version.IsZero() {
		return "", fmt.Errorf("postgres: revision %q has no version", r.Name)
	}
	for _, c := range r.StatementChecksums {
		if strings.Contains(c, ",") {
			return "", fmt.Errorf("postgres: version %s: statement checksum %q contains a comma", r.Version, c)
		}
	}
	sums := strings.Join(r.StatementChecksums, ",")
	var b strings.Builder
	b.Grow(len(upsertHead) + len(d.table) + len(upsertTail) + len(appliedAt) + len(durationMS) +
		len(r.Name) + len(r.Checksum) + len(r.AppliedBy) + len(sums) + len(r.Error) + 128)
	b.WriteString("INSERT INTO ")
	b.WriteString(d.table)
	b.WriteString(upsertHead)
	quoteTo(&b, r.Version.String())
	b.WriteString(", ")
	quoteTo(&b, r.Name)
	b.WriteString(", ")
	quoteTo(&b, r.Checksum)
	b.WriteString(", ")
	quoteTo(&b, string(r.State))
	b.WriteString(", ")
	b.WriteString(appliedAt)
	b.WriteString(", ")
	b.WriteString(durationMS)
	b.WriteString(", ")
	quoteTo(&b, r.AppliedBy)
	b.WriteString(", ")
	b.WriteString(strconv.Itoa(r.StatementsApplied))
	b.WriteString(", ")
	b.WriteString(strconv.Itoa(r.StatementsTotal))
	b.WriteString(", ")
	quoteTo(&b, sums)
	b.WriteString(", ")
	quoteTo(&b, r.Error)
	b.WriteString(upsertTail)
	return b.String(), nil
}

const (
	upsertHead = " (" + historyColumns + ")\nVALUES ("
	upsertTail = `)
ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum,
	state = EXCLUDED.state, applied_at = EXCLUDED.applied_at, duration_ms = EXCLUDED.duration_ms,
	applied_by = EXCLUDED.applied_by, statements_applied = EXCLUDED.statements_applied,
	statements_total = EXCLUDED.statements_total, statement_checksums = EXCLUDED.statement_checksums,
	error = EXCLUDED.error`
)

func (d *Driver) deleteSQL(v migration.Version) string {
	return "DELETE FROM " + d.table + " WHERE version = " + quote(v.String())
}

// guarded runs sql, a history change, after the lock's guard in the same
// query (one implicit transaction): when the guard fails nothing changes.
func (d *Driver) guarded(ctx context.Context, sql string) error {
	guard := d.guardSQL()
	if guard == "" {
		return d.simple(ctx, sql)
	}
	err := d.simple(ctx, guard+";\n"+sql)
	if gerr := d.guardError(err, "The history table was not changed."); gerr != nil {
		return gerr
	}
	return err
}
