package postgres

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/runwaydb/runway/database"
)

// The lease lock (database.LockModeTable) is one row in the table
// <history table>_lock, in the history table's schema:
//
//	id          integer PRIMARY KEY CHECK (id = 1)
//	token       text         random, one per Lock: whose lease it is
//	holder      text         Config.Identity of the holder
//	acquired_at timestamptz  when the holder took it
//	expires_at  timestamptz  when it runs out unless renewed (KeepLock)
//
// Every time is the server's clock (clock_timestamp()), so runners whose
// clocks disagree still agree on expiry. Each operation is one statement —
// one transaction — with no session state, so it works through a
// transaction-pooling proxy.
const lockTableSuffix = "_lock"

// leasePoll is how often Lock tries again while another runner holds the lease.
const leasePoll = 200 * time.Millisecond

// ensureLockTable creates the lease table when it does not exist. Two
// sessions racing to create it both succeed.
func (d *Driver) ensureLockTable(ctx context.Context) error {
	sql := `CREATE TABLE IF NOT EXISTS ` + d.lockTable + ` (
	id integer PRIMARY KEY CHECK (id = 1),
	token text NOT NULL,
	holder text NOT NULL DEFAULT '',
	acquired_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
)`
	err := d.simple(ctx, sql)
	for i := 0; i < 3 && isCode(err, createRaceCodes...); i++ { // lost the race: the table is there now
		err = d.simple(ctx, sql)
	}
	if err != nil {
		return fmt.Errorf("creating lock table %s: %w", d.lockTable, err)
	}
	return nil
}

// LeaseTTL is the lease's time to live in table lock mode, 0 in session
// mode: the engine renews the lease at least four times within it.
func (d *Driver) LeaseTTL() time.Duration {
	if !d.tableMode() {
		return 0
	}
	return d.ttl
}

// ttlSQL is the lease's lifetime as an SQL interval.
func (d *Driver) ttlSQL() string {
	return fmt.Sprintf("interval '1 millisecond' * %d", max(d.ttl.Milliseconds(), 1))
}

// holderName is what the lease row says about its holder.
func (d *Driver) holderName() string {
	switch {
	case d.cfg.Identity != "":
		return d.cfg.Identity
	case d.appName != "":
		return d.appName
	}
	return "a runner"
}

// lockLease takes the lease: inserts the row, or takes over one that has
// expired, in one statement. With wait > 0 it tries again every leasePoll
// until wait has passed.
func (d *Driver) lockLease(ctx context.Context, wait time.Duration) (*holding, error) {
	token := crand.Text()
	// Not while a session holds the advisory lock of session mode: a runner
	// configured without --lock-mode table (see liveLease).
	sql := fmt.Sprintf(`INSERT INTO %[1]s AS l (id, token, holder, acquired_at, expires_at)
SELECT 1, %[2]s, %[3]s, now(), now() + %[4]s -- one instant: acquired_at + TTL exactly
WHERE NOT %[5]s
ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, holder = EXCLUDED.holder,
	acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
WHERE l.expires_at < clock_timestamp()
RETURNING l.token`, d.lockTable, quote(token), quote(d.holderName()), d.ttlSQL(), d.heldByAny(""))
	deadline := time.Now().Add(wait)
	created := false
	for {
		res, err := d.pg.Exec(ctx, sql).ReadAll()
		if isCode(err, "42P01") && !created { // undefined_table: first use
			if err := d.ensureLockTable(ctx); err != nil {
				return nil, err
			}
			created = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(res) == 1 && len(res[0].Rows) == 1 && string(res[0].Rows[0][0]) == token {
			return &holding{token: token}, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		// A little jitter keeps a crowd of waiters from asking in step.
		pause := leasePoll + rand.N(leasePoll/4)
		if err := sleep(ctx, min(left, pause)); err != nil {
			return nil, err
		}
	}
}

// releaseLease deletes the lease row if it is still h's. When it is not, the
// error wraps database.ErrLockLost.
func (d *Driver) releaseLease(ctx context.Context, h *holding) error {
	sql := fmt.Sprintf(`DELETE FROM %s WHERE id = 1 AND token = %s RETURNING 1`, d.lockTable, quote(h.token))
	res, err := d.pg.Exec(ctx, sql).ReadAll()
	if isCode(err, "42501") {
		// A migration switched the session to a role without rights on
		// the lock table (SET ROLE, SET SESSION AUTHORIZATION), which its
		// guards did not need to delete. Release the lease as the user
		// that logged in, with the role it takes at login (ALTER ROLE …
		// SET role), which SESSION AUTHORIZATION DEFAULT restores, for
		// this transaction only: the session stays as the migration left
		// it. A second connection would not do behind a transaction
		// pooler, which may send it to this very backend.
		// (Servers without the fix of CVE-2024-10978 — before 17.1,
		// 16.5, 15.9, 14.14, 13.17 — reset the role to NONE with it: the
		// role is set back to its default by name, also for this
		// transaction only.)
		res, err = d.pg.Exec(ctx, "BEGIN; SET LOCAL SESSION AUTHORIZATION DEFAULT; SET LOCAL role TO DEFAULT; "+sql+"; COMMIT").ReadAll()
		if err != nil {
			if rbErr := d.rollback(ctx); rbErr != nil {
				err = errors.Join(err, rbErr)
			}
		}
	}
	if err != nil && !isCode(err, "42P01") {
		return fmt.Errorf("postgres: releasing the migration lock: %w", err)
	}
	if err != nil || !deletedOne(res) {
		return fmt.Errorf("postgres: releasing the migration lock: %w: the lease in %s was no longer this run's (it expired and another runner took it over, or its row was deleted)",
			database.ErrLockLost, d.lockTable)
	}
	return nil
}

// deletedOne reports whether the DELETE … RETURNING 1 among res, alone or
// in a transaction (BEGIN, SET LOCAL and COMMIT return no rows), deleted a
// row.
func deletedOne(res []*pgconn.Result) bool {
	rows := 0
	for _, r := range res {
		rows += len(r.Rows)
	}
	return rows == 1
}

// renewLease extends the lease from now by its TTL, on KeepLock's connection.
//
// The renewal commits without waiting for its WAL to reach the disk
// (synchronous_commit off, for this transaction only): it is visible to
// every other session as soon as it commits, and the wait for the flush is
// what makes a renewal slow while a migration writes a lot (on this
// project's test machine, under a bulk insert: 49 ms at the 90th percentile
// and up to 320 ms, against 1.2 ms and 49 ms). Only a server crash can lose
// it, and a crash ends the run's session, and so the run, anyway.
func (d *Driver) renewLease(ctx context.Context, h *holding) error {
	sql := fmt.Sprintf(`SET LOCAL synchronous_commit = off;
UPDATE %s SET expires_at = clock_timestamp() + %s WHERE id = 1 AND token = %s RETURNING 1`,
		d.lockTable, d.ttlSQL(), quote(h.token))
	res, err := d.keeper.PgConn().Exec(ctx, sql).ReadAll()
	if isCode(err, "42P01") {
		return fmt.Errorf("postgres: %w: the lock table %s is gone", database.ErrLockLost, d.lockTable)
	}
	if err != nil {
		return err
	}
	if len(res) == 2 && len(res[1].Rows) == 1 {
		return nil
	}
	who := "its row was deleted"
	if h, err := d.describeLease(ctx, d.keeper.PgConn()); err == nil && h != "" {
		who = "now held by " + h
	}
	return fmt.Errorf("postgres: %w: this run's lease in %s expired and was taken over (%s)", database.ErrLockLost, d.lockTable, who)
}

// leaseHolder describes the lease's holder: "runway web-1 pid=42 since
// 2026-05-01T10:00:00Z (lease expires in 12s)", or "" when nobody holds it.
func (d *Driver) leaseHolder(ctx context.Context) (string, error) {
	h, _, err := d.readLease(ctx, d.pg)
	if err != nil {
		return "", fmt.Errorf("postgres: looking up the lock holder: %w", err)
	}
	return h, nil
}

// describeLease reads the lease row on pg.
func (d *Driver) describeLease(ctx context.Context, pg *pgconn.PgConn) (string, error) {
	h, _, err := d.readLease(ctx, pg)
	return h, err
}

// readLease reads the lease row on pg: its holder described, and whether
// the lease is still running (live), which a crashed runner's is not.
func (d *Driver) readLease(ctx context.Context, pg *pgconn.PgConn) (holder string, live bool, err error) {
	sql := `SELECT holder, to_char(acquired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	ceil(extract(epoch FROM expires_at - clock_timestamp()))::bigint
FROM ` + d.lockTable + ` WHERE id = 1`
	res, err := pg.Exec(ctx, sql).ReadAll()
	if isCode(err, "42P01", "3F000") { // no lock table (or schema) yet: nobody holds it
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if len(res) != 1 || len(res[0].Rows) == 0 {
		return "", false, nil
	}
	row := res[0].Rows[0]
	left, _ := strconv.ParseInt(string(row[2]), 10, 64)
	s := fmt.Sprintf("%s since %s", row[0], row[1])
	if left > 0 {
		s += fmt.Sprintf(" (lease expires in %ds)", left)
	} else {
		s += fmt.Sprintf(" (lease expired %ds ago; the next attempt takes it over)", -left)
	}
	return s, left > 0, nil
}
