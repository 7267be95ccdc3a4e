package testdb

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// bouncerConn connects through b to database db with the simple protocol:
// prepared statements do not survive a transaction pooler.
func bouncerConn(t *testing.T, b *PgBouncer, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, b.URL(db)+"&default_query_exec_mode=simple_protocol&application_name=testdb")
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func backendPID(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var pid int
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func dbNameOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// TestPgBouncerTransactionPooling shows what transaction pooling does to a
// client: when the server connection it last used is busy with another
// client's transaction, its next transaction runs on another server session.
func TestPgBouncerTransactionPooling(t *testing.T) {
	pg := StartPostgres(t)
	b := StartPgBouncer(t, pg, "transaction")
	db := dbNameOf(t, pg.NewDatabase(t))
	ctx := context.Background()

	c := bouncerConn(t, b, db)
	first := backendPID(t, c)
	// Other clients open transactions until one of them sits on the server
	// connection c used (PgBouncer hands out the most recently used first).
	held := false
	for i := 0; i < 4 && !held; i++ {
		o := bouncerConn(t, b, db)
		if _, err := o.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		held = backendPID(t, o) == first
	}
	if !held {
		t.Fatalf("no other client got server connection %d", first)
	}
	if next := backendPID(t, c); next == first {
		t.Fatalf("the client stayed on backend %d while another client's transaction held it", first)
	} else {
		t.Logf("backend pid %d → %d between two transactions of one client", first, next)
	}
	// The server sees the client's application_name and the database's name.
	var app, name string
	if err := c.QueryRow(ctx, "SELECT current_setting('application_name'), current_database()").Scan(&app, &name); err != nil {
		t.Fatal(err)
	}
	if app != "testdb" || name != db {
		t.Errorf("application_name %q, database %q; want testdb, %s", app, name, db)
	}
}

// TestPgBouncerSessionPooling: in session mode a client keeps its server session.
func TestPgBouncerSessionPooling(t *testing.T) {
	pg := StartPostgres(t)
	b := StartPgBouncer(t, pg, "session")
	db := dbNameOf(t, pg.NewDatabase(t))
	c := bouncerConn(t, b, db)
	first := backendPID(t, c)
	o := bouncerConn(t, b, db)
	if _, err := o.Exec(context.Background(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if backendPID(t, o) == first {
		t.Fatal("two clients share one server session in session pooling")
	}
	for range 3 {
		if pid := backendPID(t, c); pid != first {
			t.Fatalf("backend changed from %d to %d in session pooling", first, pid)
		}
	}
	if !strings.Contains(b.URL("x"), ":"+strconv.Itoa(b.Port())+"/x?") {
		t.Errorf("URL %s does not use port %d", b.URL("x"), b.Port())
	}
}

// TestPgBouncerStopped: PgBouncer stops, and its directory goes, with the
// test; Close twice is fine.
func TestPgBouncerStopped(t *testing.T) {
	pg := StartPostgres(t)
	var b *PgBouncer
	if !t.Run("start", func(t *testing.T) {
		b = StartPgBouncer(t, pg, "transaction")
		if dir := b.Dir(); dir == "" {
			t.Fatal("no directory")
		}
	}) {
		t.FailNow() // the subtest said why
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, b.URL("postgres")); err == nil {
		c.Close(ctx)
		t.Fatal("pgbouncer still accepts connections after its test ended")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPgBouncerMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findPgBouncer([]string{t.TempDir()})
	if err == nil {
		t.Fatal("found a pgbouncer in empty directories")
	}
	for _, want := range []string{"apt-get install pgbouncer", "scripts/test.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
