package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/runwaydb/runway/database"
)

var _ database.LockKeeper = (*Driver)(nil)

// KeepLock confirms, from another connection of the pool (the run's session
// may be busy with a long statement), that the lock is still held by the run's
// session. It returns ErrLockLost when the lock is free or held by another
// session — the run's connection was killed or dropped — and a plain error
// when the server does not answer.
func (d *Driver) KeepLock(ctx context.Context) error {
	d.mu.Lock()
	name := d.lockName
	d.mu.Unlock()
	if !d.locked.Load() || name == "" {
		return fmt.Errorf("%w: this session has not taken it", database.ErrLockLost)
	}
	var holder sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder); err != nil {
		return fmt.Errorf("mysql: check the migration lock: %w", err)
	}
	want := d.sessionID.Load()
	switch {
	case !holder.Valid:
		return fmt.Errorf("%w: nobody holds %q any more: the run's connection %d was closed or killed", database.ErrLockLost, name, want)
	case holder.Int64 != want:
		return fmt.Errorf("%w: %q is now held by connection %d, not the run's connection %d", database.ErrLockLost, name, holder.Int64, want)
	}
	return nil
}
