package database

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runwaydb/runway/migration"
)

func statements(n int, edit ...int) []migration.Statement {
	out := make([]migration.Statement, n)
	for i := range out {
		out[i] = migration.Statement{SQL: fmt.Sprintf("INSERT INTO t VALUES (%d)", i), Line: i + 1}
	}
	for _, i := range edit {
		out[i].SQL += " -- edited"
	}
	return out
}

// A row lists the checksums one by one up to ListedSums and keeps one
// digest past it, so that its size does not grow with the script; either
// form tells an edited statement from an unchanged one.
func TestSums(t *testing.T) {
	var s Sums
	var columns [][]string
	for i, st := range statements(ListedSums + 3) {
		s.Add(st.Checksum())
		columns = append(columns, s.Column())
		if s.Len() != i+1 {
			t.Fatalf("Len = %d after %d", s.Len(), i+1)
		}
	}
	for i, c := range columns {
		switch n := i + 1; {
		case n <= ListedSums && (len(c) != n || c[n-1] != statements(n)[n-1].Checksum()):
			t.Errorf("after %d statements: %q, want them listed", n, c)
		case n > ListedSums && (len(c) != 1 || !strings.HasPrefix(c[0], fmt.Sprintf("sha256:%d:", n)) || len(c[0]) > 80):
			t.Errorf("after %d statements: %q, want one digest of them", n, c)
		}
	}
	if columns[ListedSums+1][0] == columns[ListedSums+2][0] {
		t.Error("two digests of different statements are equal")
	}
	if s := SumsOf(statements(ListedSums + 3)); s.Column()[0] != columns[ListedSums+2][0] {
		t.Error("SumsOf and Add disagree")
	}

	for _, n := range []int{0, 1, ListedSums, ListedSums + 1, 500} {
		col := SumsOf(statements(n)).Column()
		if at, changed := Changed(col, statements(n)); changed {
			t.Errorf("%d statements: unchanged statements seen as changed at %d", n, at)
		}
		if n == 0 {
			continue
		}
		at, changed := Changed(col, statements(n, n/2))
		want := n / 2
		if n > ListedSums {
			want = -1 // a digest cannot tell which
		}
		if !changed || at != want {
			t.Errorf("%d statements, statement %d edited: Changed = %d, %v; want %d, true", n, n/2+1, at, changed, want)
		}
		if _, changed := Changed(SumsOf(statements(n-1)).Column(), statements(n)); !changed {
			t.Errorf("%d statements recorded, %d compared: not seen as changed", n-1, n)
		}
	}
	// Rows written before the digest list every statement, however many.
	var long []string
	for _, st := range statements(300) {
		long = append(long, st.Checksum())
	}
	if _, changed := Changed(long, statements(300)); changed {
		t.Error("a long list written by an older runner seen as changed")
	}
	if at, changed := Changed(long, statements(300, 200)); !changed || at != 200 {
		t.Errorf("a long list, statement 201 edited: %d, %v", at, changed)
	}
}
