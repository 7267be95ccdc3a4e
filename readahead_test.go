package runway

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/runwaydb/runway/migration"
)

// source yields n statements of about 1 KiB, then err if not nil, and
// records how far it got and whether it stopped.
type source struct {
	n       int
	err     error
	yielded int
	stopped bool
}

func (s *source) seq() iter.Seq2[migration.Statement, error] {
	return func(yield func(migration.Statement, error) bool) {
		defer func() { s.stopped = true }()
		for i := 0; i < s.n; i++ {
			s.yielded++
			if !yield(migration.Statement{SQL: fmt.Sprintf("SELECT %d -- %s", i, strings.Repeat("x", 1000)), Line: i + 1}, nil) {
				return
			}
		}
		if s.err != nil {
			yield(migration.Statement{}, s.err)
		}
	}
}

// readAhead yields what its source yields, in order, and an error ahead of
// the statements read before it that it had not handed over yet (at most a
// chunk of 256 KiB); when the consumer stops early, the source stops too
// (its file is closed) and is never more than a few chunks ahead.
func TestReadAhead(t *testing.T) {
	boom := errors.New("boom")
	src := &source{n: 5000, err: boom}
	i := 0
	var last error
	for st, err := range readAhead(src.seq()) {
		if err != nil {
			last = err
			break
		}
		if st.Line != i+1 {
			t.Fatalf("statement %d has line %d", i+1, st.Line)
		}
		i++
	}
	if i > 5000 || i < 5000-300 || !errors.Is(last, boom) || !src.stopped {
		t.Fatalf("got %d statements and %v (source stopped: %v); want 4700–5000 (a chunk is about 260 of them) and boom", i, last, src.stopped)
	}

	src = &source{n: 100000}
	i = 0
	for range readAhead(src.seq()) {
		if i++; i == 10 {
			break
		}
	}
	if !src.stopped {
		t.Fatal("the source goes on after the consumer stopped")
	}
	if src.yielded > 2000 {
		t.Fatalf("the source ran %d statements ahead of a consumer that took 10", src.yielded)
	}
}
