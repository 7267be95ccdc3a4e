package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// signalGrace is how long a process runs before it catches SIGINT and
// SIGTERM whatever it is doing; taking the migration lock arms them at once
// (app.armSignals). Tests set it.
var signalGrace = 100 * time.Millisecond

// signals turns SIGINT and SIGTERM into the cancellation of the run's
// context, once armed: the run then winds down (the running statement is
// cancelled, the report and the notifications still go out) and exits 1. A
// second signal ends the process at once.
//
// Catching costs every process about 0.3–0.5 ms (os/signal starts a thread
// locked to the goroutine that keeps the signal mask, and another that waits
// for signals), a twentieth of `up` with nothing to do. So it is armed only
// when the process has run for signalGrace or is about to change the
// database (it has taken the migration lock), whichever comes first. Before
// that, a signal ends the process as it would any program that does not
// catch it (exit status 128+N): the run has changed nothing, and holds no
// lock, which would go with its session anyway. As process 1 (a container's
// entry point without an init), catching is armed at once: the kernel does
// not end process 1 by a signal it does not catch, and the Go runtime then
// exits 2, which would read as a usage error.
type signals struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	once   sync.Once
}

// newSignals returns the process's signal handling, armed after grace, or
// at once in process 1.
func newSignals(grace time.Duration) *signals {
	s := &signals{}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if os.Getpid() == 1 {
		s.arm()
	} else {
		time.AfterFunc(grace, s.arm)
	}
	return s
}

// arm starts catching the signals, once; it returns when they are caught.
func (s *signals) arm() {
	s.once.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-ch
			// The next signal takes its default course: the process ends.
			signal.Stop(ch)
			s.cancel(signalCause{sig})
		}()
	})
}

// signalCause is the cause of a context cancelled by a signal: errors.Is
// finds context.Canceled in it, as in os/signal.NotifyContext's.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return c.sig.String() + " signal received" }

func (c signalCause) Is(target error) bool { return target == context.Canceled }
