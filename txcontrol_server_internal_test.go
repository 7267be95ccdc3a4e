package runway

import (
	"context"
	"database/sql"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/internal/testdb"
)

// staysInTx against the server it reads for: with a transaction open and a
// row written in it, each statement leaves @@in_transaction at 1 exactly
// when staysInTx says it stays in the transaction.
func TestStaysInTxAsTheServerSays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := mysql.ParseURL(testdb.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx) // one session: temporary objects are the session's
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE a (i int) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{
		"CREATE TEMPORARY SEQUENCE s1",
		"CREATE OR REPLACE TEMPORARY SEQUENCE s1",
		"CREATE /* x */ TEMPORARY SEQUENCE IF NOT EXISTS s1",
		"DROP TEMPORARY SEQUENCE s1",
		"CREATE TEMPORARY TABLE tt (i int)",
		"CREATE OR REPLACE TEMPORARY TABLE tt (i int)",
		"DROP TEMPORARY TABLE tt",
		"CREATE SEQUENCE s2",
		"DROP SEQUENCE s2",
		"CREATE TABLE b (i int)",
		"DROP TABLE b",
		"SET @x = 1",
		"INSERT INTO a VALUES (2)",
	} {
		for _, q := range []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", st} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var open int
		if err := conn.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&open); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if got, want := staysInTx(st), open == 1; got != want {
			t.Errorf("%s: staysInTx %v, but the server's transaction is open: %v", st, got, open == 1)
		}
	}
}
