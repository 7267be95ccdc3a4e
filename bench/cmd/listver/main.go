// Command listver is the floor for the no-op workloads (W2 up, W3 status):
// the least a migration tool must do, in a few lines of Go. It lists the
// migration files, reads the applied versions in one query and prints what
// is pending. No lock, no checksums, no history-table creation. With
// -select1 it runs SELECT 1 instead of reading the history: W6's reference
// crowd, the least each of the other runners could do.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

func main() {
	url := flag.String("d", "", "database URL")
	dir := flag.String("dir", "migrations", "migrations folder")
	table := flag.String("table", "schema_versions", "history table")
	select1 := flag.Bool("select1", false, "run SELECT 1 instead of reading the history (W6's reference crowd, which starts before the history exists)")
	flag.Parse()
	entries, err := os.ReadDir(*dir)
	if err != nil {
		fail(err)
	}
	files := map[int64]string{}
	for _, e := range entries {
		digits, _, ok := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseInt(digits, 10, 64); ok && err == nil && strings.HasSuffix(e.Name(), ".up.sql") {
			files[v] = e.Name()
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		fail(err)
	}
	defer conn.Close(ctx)
	if *select1 {
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			fail(err)
		}
		fmt.Printf("%d files\n", len(files))
		return
	}
	rows, err := conn.Query(ctx, "SELECT version FROM "+*table)
	if err != nil {
		fail(err)
	}
	applied := 0
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			fail(err)
		}
		if _, ok := files[v]; ok {
			applied++
		}
	}
	if err := rows.Err(); err != nil {
		fail(err)
	}
	fmt.Printf("%d applied, %d pending\n", applied, len(files)-applied)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "listver:", err)
	os.Exit(1)
}
