package migration

import "testing"

// The zero Version stands for none (an empty history): below every
// version, 0 included, so that a history holding version 0 has 0 as its
// newest, not none.
func TestVersionCompareZero(t *testing.T) {
	zero, v0, v00, v1 := Version{}, MustParseVersion("0"), MustParseVersion("0.0"), MustParseVersion("1")
	for _, c := range []struct {
		a, b Version
		want int
	}{
		{zero, zero, 0}, {zero, v0, -1}, {v0, zero, 1}, {zero, v1, -1},
		{v0, v00, 0}, {v0, v1, -1}, {v1, v0, 1},
	} {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%q.Compare(%q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
