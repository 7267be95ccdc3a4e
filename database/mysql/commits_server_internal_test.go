package mysql

import (
	"testing"

	"github.com/runwaydb/runway/internal/testdb"
)

// commitsAfter against the server it reads for: it says a statement
// commits exactly when no transaction is open after it.
func TestCommitsAfterAsTheServerSays(t *testing.T) {
	open := testdb.MySQLTxOpenAfter(t, testdb.MySQLTxStatements...)
	for i, st := range testdb.MySQLTxStatements {
		if got := commitsAfter(st); got != !open[i] {
			t.Errorf("%s: commitsAfter %v, but the server's transaction is open: %v", st, got, open[i])
		}
	}
}
