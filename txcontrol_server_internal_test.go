package runway

import (
	"testing"

	"github.com/runwaydb/runway/internal/testdb"
)

// staysInTx against the server it reads for: it says a statement stays in
// the transaction exactly when one is open after it.
func TestStaysInTxAsTheServerSays(t *testing.T) {
	open := testdb.MySQLTxOpenAfter(t, testdb.MySQLTxStatements...)
	for i, st := range testdb.MySQLTxStatements {
		if got := staysInTx(st); got != open[i] {
			t.Errorf("%s: staysInTx %v, but the server's transaction is open: %v", st, got, open[i])
		}
	}
}
