package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runwaydb/runway/internal/testdb"
)

// Behind PgBouncer in transaction pooling, --lock-mode table lets concurrent
// runners apply each migration once. (The default session lock's refusal
// there is shown deterministically in database/postgres
// TestUpBehindTransactionPooler; its exit code in TestExitCodes.)
func TestLockModesThroughPgBouncer(t *testing.T) {
	pg := testdb.StartPostgres(t)
	bouncer := testdb.StartPgBouncer(t, pg, "transaction")
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d_t%d.up.sql", i, i)),
			[]byte(fmt.Sprintf("CREATE TABLE t%d (id int);\nSELECT pg_sleep(0.2);\n", i)), 0o644)
	}
	cli := func(url string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" }, false, false)
		code := a.run(context.Background(), append([]string{"-d", url, "--dir", dir}, args...))
		return code, out.String() + errb.String()
	}

	url := bouncer.URL(strings.TrimPrefix(mustPath(t, pg.NewDatabase(t)), "/"))
	var wg sync.WaitGroup
	codes := make([]int, 6)
	outs := make([]string, 6)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], outs[i] = cli(url, "--lock-mode", "table", "--lock-lease", "3s", "--json", "up")
		}(i)
	}
	wg.Wait()
	applied := 0
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("runner %d: exit %d\n%s", i, c, outs[i])
		}
		applied += strings.Count(outs[i], `"duration_ms":`) - 1 // one per applied migration, one for the run
	}
	if applied != 5 {
		t.Fatalf("runners applied %d migrations in all, want 5", applied)
	}

}

func mustPath(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "://")
	rest := raw[i+3:]
	p := rest[strings.Index(rest, "/"):]
	if q := strings.Index(p, "?"); q >= 0 {
		p = p[:q]
	}
	return p
}
