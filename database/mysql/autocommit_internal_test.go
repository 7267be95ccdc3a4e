package mysql

import "testing"

func TestMentionsAutocommit(t *testing.T) {
	for sql, want := range map[string]bool{
		"SET autocommit = 0":                    true,
		"set @@AutoCommit := 1":                 true,
		"/*!40101 SET AUTOCOMMIT=0 */":          true,
		"INSERT INTO t VALUES ('x')":            false,
		"SET autocommi = 0":                     false,
		"autocommit":                            true,
		"":                                      false,
		"UPDATE t SET a = 1 WHERE b = 'autoco'": false,
	} {
		if got := mentionsAutocommit(sql); got != want {
			t.Errorf("mentionsAutocommit(%q) = %v, want %v", sql, got, want)
		}
	}
}
