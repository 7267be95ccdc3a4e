package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/runwaydb/runway/database"
)

// keeperSuffix ends the application_name of KeepLock's connection.
const keeperSuffix = " (lock keepalive)"

// keeperConfig is the configuration of KeepLock's connection: the run's own
// (host, credentials, TLS), labelled as the keepalive in application_name,
// and with pgx's default cancellation, which sets a deadline on the socket:
// a KeepLock the database does not answer ends with its context.
func keeperConfig(c *pgx.ConnConfig) *pgx.ConnConfig {
	c = c.Copy()
	params := make(map[string]string, len(c.RuntimeParams)+1)
	for k, v := range c.RuntimeParams {
		params[k] = v
	}
	name := asciiName(params["application_name"])
	if name == "" {
		name = "runway"
	}
	if room := maxAppName - len(keeperSuffix); len(name) > room {
		name = name[:room]
	}
	params["application_name"] = name + keeperSuffix
	c.RuntimeParams = params
	c.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	return c
}

// KeepLock confirms that the run still holds the migration lock, from a
// second connection that it opens on first use (the run's own session may be
// busy with a long statement), and may be called while another goroutine uses
// the Driver's other methods.
//
// In session mode it checks in pg_lock_status() that the backend which took the
// advisory lock still holds it; in table mode it renews the lease for another
// LeaseTTL. It returns an error wrapping database.ErrLockLost when the lock
// is gone (the session was terminated, the lease was taken over), and another
// error when it cannot tell (no connection, no answer before ctx ends). Call
// it well within the lease's TTL: every TTL/3 tolerates two failed renewals.
func (d *Driver) KeepLock(ctx context.Context) error {
	d.keepMu.Lock()
	defer d.keepMu.Unlock()
	h := d.held.Load()
	if h == nil {
		return fmt.Errorf("postgres: %w: this run does not hold it", database.ErrLockLost)
	}
	if d.keeper == nil || d.keeper.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, d.keeperConfig)
		if err != nil {
			return fmt.Errorf("postgres: confirming the migration lock: %w", connectError("", d.keeperConfig, err))
		}
		d.keeper = c
	}
	var err error
	if d.tableMode() {
		err = d.renewLease(ctx, h)
	} else {
		err = d.confirmSession(ctx, h)
	}
	if err == nil || errors.Is(err, database.ErrLockLost) {
		return err
	}
	// The connection may be broken: start afresh next time.
	d.dropKeeper(ctx)
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = errors.Join(err, ctx.Err())
	}
	return fmt.Errorf("postgres: confirming the migration lock: %w", err)
}

// confirmSession checks that backend h.pid still holds the advisory lock.
func (d *Driver) confirmSession(ctx context.Context, h *holding) error {
	sql := fmt.Sprintf(`SELECT %s, EXISTS (SELECT 1 FROM pg_stat_get_activity(%d))`, d.heldBy(strconv.Itoa(h.pid)), h.pid)
	res, err := d.keeper.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return errors.New("unexpected reply from pg_locks")
	}
	row := res[0].Rows[0]
	switch {
	case string(row[0]) == "t":
		return nil
	case string(row[1]) == "t":
		return fmt.Errorf("postgres: %w: the session that took it (pid %d) no longer holds it", database.ErrLockLost, h.pid)
	default:
		return fmt.Errorf("postgres: %w: the session holding the lock is gone (pid %d): it was terminated or lost its connection, and the lock went with it",
			database.ErrLockLost, h.pid)
	}
}

// dropKeeper closes KeepLock's connection. The caller holds keepMu.
func (d *Driver) dropKeeper(ctx context.Context) {
	if d.keeper == nil {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	d.keeper.Close(c)
	d.keeper = nil
}

// closeKeeper closes KeepLock's connection once KeepLock is done with it.
func (d *Driver) closeKeeper(ctx context.Context) {
	d.keepMu.Lock()
	defer d.keepMu.Unlock()
	d.dropKeeper(ctx)
}
