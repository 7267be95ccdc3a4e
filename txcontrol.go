package runway

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/runwaydb/runway/migration"
)

// txControl names the transaction-control statement sql is ("BEGIN",
// "COMMIT" …), or returns "" for any other statement. BEGIN ATOMIC and
// MariaDB's BEGIN NOT ATOMIC open blocks, not transactions; ROLLBACK TO a
// savepoint stays inside the transaction.
func txControl(sql string) string {
	first, second := firstWords(sql)
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

// setting reports whether sql is a statement that may stand before a
// script's BEGIN, as sqlite3's .dump writes PRAGMA foreign_keys=OFF before
// its BEGIN TRANSACTION: a SET of a session parameter, or PRAGMA
// foreign_keys=OFF or defer_foreign_keys. It stays where it is, now inside
// Runway's transaction, where it acts as it did before the BEGIN; but
// PRAGMA foreign_keys does nothing in a transaction, where the dump's rows
// go in with foreign keys off all the same unless the URL turned them on
// (sqlite3 and Runway leave them off). What acts otherwise in a
// transaction (SET LOCAL, SET CONSTRAINTS, SET TRANSACTION, SET SESSION
// CHARACTERISTICS, SET transaction_… and default_transaction_…, PRAGMA
// foreign_keys=ON, PRAGMA journal_mode …) is no setting: the wrapper
// after it is then the script's own transaction control, refused.
func setting(sql string) bool {
	first, second := firstWords(sql)
	switch first {
	case "PRAGMA":
		// foreign_keys=OFF only: ON would do nothing in the transaction,
		// and ON DELETE CASCADE would not fire.
		p := strings.ToLower(strings.Join(leadWords(sql, 4)[1:], ""))
		p = strings.TrimPrefix(p, "main.")
		switch p {
		case "foreign_keys=off", "foreign_keys=0", "foreign_keys=false", "foreign_keys=no":
			return true
		}
		return strings.HasPrefix(p, "defer_foreign_keys=")
	case "SET":
		w := leadWords(sql, 3)
		name := second
		if name == "SESSION" && len(w) > 2 {
			name = w[2]
		}
		name, _, _ = strings.Cut(name, "=")
		switch {
		case name == "LOCAL", name == "CONSTRAINTS", name == "TRANSACTION", name == "CHARACTERISTICS",
			strings.HasPrefix(name, "TRANSACTION_"), strings.HasPrefix(name, "DEFAULT_TRANSACTION_"):
			// What applies to the next transaction, or only inside one.
			return false
		}
		return true
	}
	return false
}

// firstWords returns the first two words of sql, in upper case.
func firstWords(sql string) (first, second string) {
	w := leadWords(sql, 2)
	if len(w) > 0 {
		first = w[0]
	}
	if len(w) > 1 {
		second = w[1]
	}
	return first, second
}

// leadWords returns up to n words from the first 64 bytes of sql, in upper
// case.
func leadWords(sql string, n int) []string {
	words := strings.FieldsFunc(sql[:min(len(sql), 64)], func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';'
	})
	words = words[:min(len(words), n)]
	for i, w := range words {
		words[i] = strings.ToUpper(w)
	}
	return words
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
// it is (golang-migrate) wrap themselves in BEGIN … COMMIT, maybe after
// settings (see setting): that wrapper is dropped, Runway's transaction
// taking its place; run as written, its COMMIT would end Runway's
// transaction early and the history row would be written outside it. Any
// other transaction control (a second BEGIN … COMMIT block, a ROLLBACK) is
// refused before anything runs: such a script manages its transactions
// itself and must say so with -- runway:no-transaction, which runs it as
// written, statement by statement.
func unwrapTx(file string, stmts []migration.Statement) ([]migration.Statement, error) {
	k := 0
	for k < len(stmts) && setting(stmts[k].SQL) {
		k++
	}
	if n := len(stmts); n-k >= 2 && opensTx(stmts[k].SQL) && closesTx(stmts[n-1].SQL) {
		stmts = append(slices.Clip(stmts[:k]), stmts[k+1:n-1]...)
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
			"(a BEGIN … COMMIT around the whole script is fine, with nothing before it but SET or PRAGMA foreign_keys=OFF): put -- runway:no-transaction at the top of the file "+
			"to run it as written, statement by statement, or remove the statement",
		migration.ErrUnsupported, txControl(st.SQL))}
}

// unwrapTxSeq is unwrapTx for a script read as it is sent: it drops a
// first BEGIN (after settings only) and a last COMMIT, and ends with an
// error at any other transaction control, which rolls the migration back.
func unwrapTxSeq(file string, seq iter.Seq2[migration.Statement, error]) iter.Seq2[migration.Statement, error] {
	return func(yield func(migration.Statement, error) bool) {
		var held *migration.Statement // a COMMIT, kept until it proves to be the last
		first, opened := true, false
		for st, err := range seq {
			if err != nil {
				yield(st, err)
				return
			}
			if first && !setting(st.SQL) {
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
