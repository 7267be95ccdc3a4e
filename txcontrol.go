package runway

import (
	"fmt"
	"iter"
	"strings"

	"github.com/runwaydb/runway/migration"
)

// txControl names the transaction-control statement sql is ("BEGIN",
// "COMMIT" …), or returns "" for any other statement. BEGIN ATOMIC and
// MariaDB's BEGIN NOT ATOMIC open blocks, not transactions; ROLLBACK TO a
// savepoint stays inside the transaction.
func txControl(sql string) string {
	words := strings.FieldsFunc(sql[:min(len(sql), 64)], func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';'
	})
	if len(words) == 0 {
		return ""
	}
	first := strings.ToUpper(words[0])
	second := ""
	if len(words) > 1 {
		second = strings.ToUpper(words[1])
	}
	switch first {
	case "BEGIN":
		if second == "ATOMIC" || second == "NOT" {
			return ""
		}
		return first
	case "START":
		if second == "TRANSACTION" {
			return "START TRANSACTION"
		}
	case "ROLLBACK":
		if second == "TO" {
			return ""
		}
		return first
	case "COMMIT", "END", "ABORT":
		return first
	}
	return ""
}

func opensTx(sql string) bool {
	c := txControl(sql)
	return c == "BEGIN" || c == "START TRANSACTION"
}

func closesTx(sql string) bool {
	c := txControl(sql)
	return c == "COMMIT" || c == "END"
}

// unwrapTx prepares the statements of a script Runway runs in a
// transaction of its own. Many scripts written for tools that run a file as
// it is (golang-migrate) wrap themselves in BEGIN … COMMIT: that wrapper is
// dropped, Runway's transaction taking its place; run as written, its
// COMMIT would end Runway's transaction early and the history row would be
// written outside it. Any other transaction control (a second BEGIN …
// COMMIT block, a ROLLBACK) is refused before anything runs: such a script
// manages its transactions itself and must say so with
// -- runway:no-transaction, which runs it as written, statement by
// statement.
func unwrapTx(file string, stmts []migration.Statement) ([]migration.Statement, error) {
	if n := len(stmts); n >= 2 && opensTx(stmts[0].SQL) && closesTx(stmts[n-1].SQL) {
		stmts = stmts[1 : n-1]
	}
	for _, st := range stmts {
		if txControl(st.SQL) != "" {
			return nil, ownTxError(file, st)
		}
	}
	return stmts, nil
}

func ownTxError(file string, st migration.Statement) error {
	return &migration.FileError{File: file, Line: st.Line, Err: fmt.Errorf(
		"%w: %s: a migration runs in one transaction, which this statement would end or nest "+
			"(a BEGIN … COMMIT around the whole script is fine): put -- runway:no-transaction at the top of the file "+
			"to run it as written, statement by statement, or remove the statement",
		migration.ErrUnsupported, txControl(st.SQL))}
}

// unwrapTxSeq is unwrapTx for a script read as it is sent: it drops a
// first BEGIN and a last COMMIT, and ends with an error at any other
// transaction control, which rolls the migration back.
func unwrapTxSeq(file string, seq iter.Seq2[migration.Statement, error]) iter.Seq2[migration.Statement, error] {
	return func(yield func(migration.Statement, error) bool) {
		var held *migration.Statement // a COMMIT, kept until it proves to be the last
		first, opened := true, false
		for st, err := range seq {
			if err != nil {
				yield(st, err)
				return
			}
			if first {
				first = false
				if opensTx(st.SQL) {
					opened = true
					continue
				}
			}
			if held != nil {
				yield(migration.Statement{}, ownTxError(file, *held))
				return
			}
			if txControl(st.SQL) != "" {
				if opened && closesTx(st.SQL) {
					held = &st
					continue
				}
				yield(migration.Statement{}, ownTxError(file, st))
				return
			}
			if !yield(st, nil) {
				return
			}
		}
		if opened && held == nil {
			// BEGIN without its COMMIT: the script opens a transaction it
			// leaves to the end of the session.
			yield(migration.Statement{}, &migration.FileError{File: file, Err: fmt.Errorf(
				"%w: the script begins a transaction it does not commit: end it with COMMIT, or remove its BEGIN", migration.ErrUnsupported)})
		}
	}
}
