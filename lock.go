package runway

import (
	"context"
	"fmt"
	"time"
)

// lock takes the migration lock within the lock timeout, telling the observer
// who holds it while waiting. The returned function releases it.
func (r *Runner) lock(ctx context.Context) (release func(), err error) {
	start := r.cfg.now()
	deadline := start.Add(r.cfg.lockTimeout)
	ok, err := r.drv.Lock(ctx, 0)
	for err == nil && !ok {
		remaining := deadline.Sub(r.cfg.now())
		if remaining <= 0 {
			holder, _ := r.drv.LockHolder(ctx)
			if holder != "" {
				return nil, fmt.Errorf("%w after %s: held by %s; if that runner is gone, its session will release the lock when the database notices", ErrLockTimeout, r.cfg.lockTimeout, holder)
			}
			return nil, fmt.Errorf("%w after %s: another runner holds it", ErrLockTimeout, r.cfg.lockTimeout)
		}
		holder, herr := r.drv.LockHolder(ctx)
		if herr != nil {
			r.cfg.logger.Debug("could not tell who holds the lock", "error", herr)
		}
		r.emit(Event{Kind: EventLockWaiting, Holder: holder, Waited: r.cfg.now().Sub(start)})
		ok, err = r.drv.Lock(ctx, min(remaining, r.cfg.lockPoll))
	}
	if err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	r.emit(Event{Kind: EventLockAcquired, Waited: r.cfg.now().Sub(start)})
	return func() {
		// Unlock even when the run's context was cancelled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.drv.Unlock(uctx); err != nil {
			r.cfg.logger.Debug("unlock failed; the lock goes with the session", "error", err)
		}
	}, nil
}
