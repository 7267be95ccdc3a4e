package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lockedSince separates the runner's identity from the time it took the lock
// in application_name, where LockHolder in another session finds both.
const lockedSince = " locked since "

// lockedAppName is the SQL expression for application_name while holding the
// lock: the session's own name, cut to leave room for the server's clock.
func (d *Driver) lockedAppName() string {
	const stamp = len("2006-01-02T15:04:05Z")
	base := asciiName(d.appName)
	if room := maxAppName - len(lockedSince) - stamp; len(base) > room {
		base = base[:room]
	}
	return quote(base+lockedSince) +
		` || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`
}

// Lock takes the session advisory lock named after the history table.
// With wait > 0 the server queues this session behind the holder (lock_timeout)
// so it gets the lock the moment it is released.
func (d *Driver) Lock(ctx context.Context, wait time.Duration) (bool, error) {
	if d.locked {
		return true, nil
	}
	var ok bool
	var err error
	switch {
	case wait <= 0:
		ok, err = d.tryLock(ctx)
	case d.pollLock:
		ok, err = d.pollForLock(ctx, wait)
	default:
		ok, err = d.waitLock(ctx, wait)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = errors.Join(err, ctx.Err())
		}
		return false, fmt.Errorf("postgres: taking the migration lock: %w", err)
	}
	d.locked = ok
	return ok, nil
}

func (d *Driver) tryLock(ctx context.Context) (bool, error) {
	// One round trip: the CTE (volatile, so evaluated once) takes the lock and
	// only on success relabels the session.
	sql := fmt.Sprintf(`WITH l AS (SELECT pg_try_advisory_lock(%d) AS ok)
SELECT ok, CASE WHEN ok THEN set_config('application_name', %s, false) END FROM l`, d.key, d.lockedAppName())
	res, err := d.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return false, err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return false, errors.New("unexpected reply to pg_try_advisory_lock")
	}
	return string(res[0].Rows[0][0]) == "t", nil
}

func (d *Driver) waitLock(ctx context.Context, wait time.Duration) (bool, error) {
	ms := max(wait.Milliseconds(), 1)
	ms = min(ms, 1<<31-1) // lock_timeout's maximum
	// One implicit transaction: when the wait times out, the SET is rolled
	// back with it, so there is nothing to reset.
	sql := fmt.Sprintf(`SET lock_timeout = %d; SELECT pg_advisory_lock(%d); SELECT set_config('application_name', %s, false); RESET lock_timeout`,
		ms, d.key, d.lockedAppName())
	_, err := d.conn.PgConn().Exec(ctx, sql).ReadAll()
	if isCode(err, "55P03") { // lock_not_available
		return false, nil
	}
	if err != nil {
		// Cancelled between taking the lock and the end of the query, the
		// session may hold it after all: session locks ignore the rollback.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		d.conn.PgConn().Exec(c, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", d.key)).ReadAll()
		return false, err
	}
	return true, nil
}

// pollForLock is the alternative to waitLock: try, sleep, try again.
func (d *Driver) pollForLock(ctx context.Context, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		ok, err := d.tryLock(ctx)
		if ok || err != nil {
			return ok, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t := time.NewTimer(min(left, 50*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// Unlock releases the lock and restores application_name.
func (d *Driver) Unlock(ctx context.Context) error {
	if !d.locked {
		return nil
	}
	sql := fmt.Sprintf(`SELECT pg_advisory_unlock(%d), set_config('application_name', %s, false)`, d.key, quote(d.appName))
	res, err := d.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return fmt.Errorf("postgres: releasing the migration lock: %w", err)
	}
	d.locked = false
	if len(res) == 1 && len(res[0].Rows) == 1 && string(res[0].Rows[0][0]) != "t" {
		return errors.New("postgres: releasing the migration lock: this session did not hold it")
	}
	return nil
}

// LockHolder describes the session holding the lock, as
// "runway web-1 pid=42 (pid 1234 on 10.0.0.5) since 2026-05-01T10:00:00Z",
// or "" when nobody holds it.
func (d *Driver) LockHolder(ctx context.Context) (string, error) {
	// A bigint advisory key shows in pg_locks as classid (high half),
	// objid (low half) and objsubid 1.
	u := uint64(d.key)
	sql := fmt.Sprintf(`SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.client_hostname, host(a.client_addr), '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %d AND l.objid = %d AND l.objsubid = 1
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`, u>>32, u&0xffffffff)
	res, err := d.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return "", fmt.Errorf("postgres: looking up the lock holder: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) == 0 {
		return "", nil
	}
	row := res[0].Rows[0]
	pid, _ := strconv.Atoi(string(row[0]))
	return describeHolder(pid, string(row[1]), string(row[2])), nil
}

func describeHolder(pid int, app, host string) string {
	who, since, _ := strings.Cut(app, lockedSince)
	if who == "" {
		who = "a session"
	}
	where := fmt.Sprintf("pid %d", pid)
	if host != "" {
		where += " on " + host
	}
	s := who + " (" + where + ")"
	if since != "" {
		s += " since " + since
	}
	return s
}
