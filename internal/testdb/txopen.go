package testdb

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLTxStatements are statements whose effect on an open transaction
// the MySQL readers must judge as the server does: temporary objects, which
// keep it but for MariaDB's CREATE TEMPORARY SEQUENCE, DDL, which ends it,
// and statements that stay in it.
var MySQLTxStatements = []string{
	"CREATE TEMPORARY SEQUENCE s1",
	"CREATE OR REPLACE TEMPORARY SEQUENCE s1",
	"create /* x */ temporary sequence if not exists s1",
	"CREATE TEMPORARY SEQUENCE`s3`",
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
}

// MySQLTxOpenAfter asks the MySQL test server (see MySQL) whether a
// transaction is still open after each statement: in one session of a new
// database with a table a (i int), it runs START TRANSACTION, a row into
// a, the statement, reads @@in_transaction, and rolls back.
func MySQLTxOpenAfter(t testing.TB, stmts ...string) []bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := openMySQL(t, MySQL(t))
	defer db.Close()
	conn, err := db.Conn(ctx) // one session: temporary objects are the session's
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE a (i int) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	open := make([]bool, len(stmts))
	for i, st := range stmts {
		for _, q := range []string{"START TRANSACTION", "INSERT INTO a VALUES (1)", st} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var in int
		if err := conn.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&in); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		open[i] = in == 1
	}
	return open
}

// MySQLScalar runs query, which returns one value, on the database dbURL
// names (a URL testdb.MySQL gave) and returns the value as text.
func MySQLScalar(t testing.TB, dbURL, query string) string {
	t.Helper()
	db := openMySQL(t, dbURL)
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// openMySQL opens a pool on the database dbURL names (a URL testdb.MySQL
// gave).
func openMySQL(t testing.TB, dbURL string) *sql.DB {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := mysql.NewConnector(mysqlConfig(u, strings.TrimPrefix(u.Path, "/")))
	if err != nil {
		t.Fatal(err)
	}
	return sql.OpenDB(connector)
}
