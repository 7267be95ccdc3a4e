package runway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runwaydb/runway/database"
)

// lock takes the migration lock within the lock timeout, telling the observer
// who holds it while waiting. It returns the context the locked work must run
// under — cancelled, with ErrLockLost as its cause, when the lock keeper finds
// the lock gone — and the function that releases the lock.
func (r *Runner) lock(ctx context.Context) (context.Context, func(), error) {
	return r.lockUnlessSettled(ctx, nil)
}

// errSettled is lockUnlessSettled's answer when the work was found done
// while waiting.
var errSettled = errors.New("settled while waiting for the lock")

// lockQuiet is how long a runner waits for the lock before it says so
// (EventLockWaiting) and asks who holds it. Replicas of a deploy that
// start together mostly wait less than this for the one that applies;
// looking up the holder costs each of them a query of the server's lock
// table at the moment the whole crowd arrives, for a line nobody needs.
const lockQuiet = time.Second

// lockUnlessSettled is lock for work that another runner may finish while
// this one waits. With a driver that can wait for the lock to be free
// without taking it (database.LockWaiter), each time the lock is released
// settled is asked whether there is anything left to do; when there is
// not, it returns errSettled without taking the lock. A crowd of runners
// behind the one that applies then finishes at once, not one by one.
//
// A runner still waiting after lockQuiet names the holder
// (EventLockWaiting), and again at every poll after that.
func (r *Runner) lockUnlessSettled(ctx context.Context, settled func() bool) (context.Context, func(), error) {
	start := r.cfg.now()
	deadline := start.Add(r.cfg.lockTimeout)
	waiter, canWait := r.drv.(database.LockWaiter)
	canWait = canWait && settled != nil
	ok, err := r.drv.Lock(ctx, 0)
	for err == nil && !ok {
		now := r.cfg.now()
		remaining, waited := deadline.Sub(now), now.Sub(start)
		if remaining <= 0 {
			if holder, _ := r.drv.LockHolder(ctx); holder != "" {
				return nil, nil, fmt.Errorf("%w after %s: held by %s. If that runner is gone, the lock is released when the database ends its session (or, with --lock-mode table, when its lease expires); raise --lock-timeout if it is just slow", ErrLockTimeout, r.cfg.lockTimeout, holder)
			}
			return nil, nil, fmt.Errorf("%w after %s: another runner holds it", ErrLockTimeout, r.cfg.lockTimeout)
		}
		wait := min(remaining, r.cfg.lockPoll)
		if waited < r.cfg.lockQuiet {
			wait = min(wait, r.cfg.lockQuiet-waited)
		} else {
			holder, herr := r.drv.LockHolder(ctx)
			if herr != nil {
				r.cfg.logger.Debug("could not tell who holds the lock", "error", herr)
			}
			if herr == nil && holder == "" {
				// Nobody holds it now (the holder let go since the last
				// attempt), or the driver cannot name the holder: try again
				// at once rather than report a wait for no one.
				if ok, err = r.drv.Lock(ctx, 0); err != nil || ok {
					break
				}
			}
			r.emit(Event{Kind: EventLockWaiting, Holder: holder, Waited: waited})
		}
		if canWait {
			var free bool
			free, err = waiter.WaitUnlocked(ctx, wait)
			if errors.Is(err, errors.ErrUnsupported) {
				canWait, err = false, nil
				continue
			}
			if err == nil && free {
				if settled() {
					return nil, nil, errSettled
				}
				ok, err = r.drv.Lock(ctx, 0)
			}
			continue
		}
		ok, err = r.drv.Lock(ctx, wait)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// A wait the caller cut short, whatever the driver made of it
			// (PostgreSQL: a cancelled statement): errors.Is finds why.
			err = errors.Join(err, ctx.Err())
		}
		return nil, nil, fmt.Errorf("take the migration lock: %w", err)
	}
	r.emit(Event{Kind: EventLockAcquired, Waited: r.cfg.now().Sub(start)})
	runCtx, stopKeeper := r.keepLock(ctx)
	return runCtx, func() {
		stopKeeper()
		// Unlock even when the run's context was cancelled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.drv.Unlock(uctx); err != nil {
			r.cfg.logger.Debug("unlock failed; a session's lock goes with the session, a lease (--lock-mode table) when it expires", "error", err)
		}
	}, nil
}

// leaser is a driver whose lock is a lease (database.LockModeTable): it
// expires unless renewed within its time to live.
type leaser interface {
	LeaseTTL() time.Duration // 0 when the lock is not a lease
}

// keepLock confirms, every keepalive interval and from another connection,
// that the run still holds its lock (renewing a lease where the lock is one).
// When the lock is gone, or the database has not confirmed it for three
// intervals (it stopped answering), the run's context is cancelled with
// ErrLockLost as its cause: a runner must not go on unlocked.
//
// The three intervals count from the start of the last confirmation that
// succeeded, not from its end: a lease is renewed at some moment after the
// request left, so that start is the latest moment the lease is known to
// run from. One confirmation may take all that is left of them: a database
// slow to answer (a commit waiting on a busy disk, a loaded host) still
// confirms the lock, where cutting each attempt at one interval would drop
// the connection and spend the next attempts reconnecting.
func (r *Runner) keepLock(ctx context.Context) (context.Context, func()) {
	keeper, ok := r.drv.(database.LockKeeper)
	interval := r.cfg.keepalive
	if l, isLease := r.drv.(leaser); isLease {
		// A lease that is not renewed well before it expires lets the next
		// runner take the lock while this one still works: renew it at
		// least four times a lease, whatever the keepalive says, so that
		// the three unconfirmed intervals that stop the run end before the
		// lease can lapse.
		if ttl := l.LeaseTTL(); ttl > 0 && (interval <= 0 || interval > ttl/4) {
			interval = ttl / 4
		}
	}
	if !ok || interval <= 0 {
		return ctx, func() {}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	finished := make(chan struct{})
	lastOK := time.Now() // the lock was taken just before
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		// The moment the run stops unless a confirmation starts later
		// than the last one and succeeds: a failed attempt does not wait
		// for the next tick past it.
		giveUp := time.NewTimer(time.Until(lastOK.Add(3 * interval)))
		defer giveUp.Stop()
		var lastErr error
		for {
			select {
			case <-done:
				return
			case <-runCtx.Done():
				return
			case <-giveUp.C:
				cancel(fmt.Errorf("%w: the database has not confirmed the lock for %s (%v); stopping rather than going on unlocked",
					ErrLockLost, time.Since(lastOK).Round(time.Second), lastErr))
				return
			case <-t.C:
			}
			started := time.Now()
			kctx, kcancel := context.WithDeadline(runCtx, lastOK.Add(3*interval))
			err := keeper.KeepLock(kctx)
			kcancel()
			select {
			case <-done:
				return // the run ended while we asked
			default:
			}
			switch {
			case err == nil:
				lastOK = started
				giveUp.Reset(time.Until(lastOK.Add(3 * interval)))
			case errors.Is(err, database.ErrLockLost):
				cancel(fmt.Errorf("%w: %v", ErrLockLost, err))
				return
			case time.Since(lastOK) >= 3*interval:
				cancel(fmt.Errorf("%w: the database has not confirmed the lock for %s (%v); stopping rather than going on unlocked",
					ErrLockLost, time.Since(lastOK).Round(time.Second), err))
				return
			default:
				lastErr = err
				r.cfg.logger.Debug("could not confirm the lock; trying again", "error", err)
			}
		}
	}()
	return runCtx, func() {
		close(done)
		<-finished
		cancel(nil)
	}
}

// stopped explains an error that happened because the lock keeper stopped the run.
func stopped(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if err == nil || cause == nil || !errors.Is(cause, ErrLockLost) {
		return err
	}
	var me *MigrationError
	if errors.As(err, &me) {
		me.Message = "stopped: " + cause.Error()
		me.Err = errors.Join(cause, me.Err)
		return err
	}
	return fmt.Errorf("%w (%v)", cause, err)
}

// lockedHistory takes the lock, creates the history table when it is
// missing, and reads it: how the commands that write history start. The
// returned context and release are lock's.
func (r *Runner) lockedHistory(ctx context.Context) (context.Context, func(), []database.Revision, error) {
	ctx, release, err := r.lock(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := r.drv.EnsureHistory(ctx); err != nil {
		release()
		return nil, nil, nil, fmt.Errorf("create history table %s: %w", r.cfg.table, err)
	}
	revs, err := r.drv.History(ctx)
	if err != nil {
		release()
		return nil, nil, nil, fmt.Errorf("read history table %s: %w", r.cfg.table, err)
	}
	return ctx, release, revs, nil
}

// historyOutsideLock reads the history without the migration lock (status,
// plan, validate, the question before down). When another run's migration
// keeps the database busy (database.ErrBusy: SQLite), it waits for that run
// to release the lock, within the lock timeout, and reads again: a timeout
// is ErrLockTimeout, as for a run that could not take the lock.
func (r *Runner) historyOutsideLock(ctx context.Context) ([]database.Revision, error) {
	revs, err := r.drv.History(ctx)
	for errors.Is(err, database.ErrBusy) {
		w, ok := r.drv.(database.LockWaiter)
		if !ok {
			return nil, err
		}
		free, werr := w.WaitUnlocked(ctx, r.cfg.lockTimeout)
		switch {
		case werr != nil:
			return nil, werr
		case !free:
			return nil, fmt.Errorf("%w after %s: %w; raise --lock-timeout to wait longer", ErrLockTimeout, r.cfg.lockTimeout, err)
		}
		revs, err = r.drv.History(ctx)
	}
	return revs, err
}
