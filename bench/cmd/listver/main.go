// Command listver is the floor for the no-op workloads (W2 up, W3 status):
// the least a migration tool must do, in a few lines of Go. It lists the
// migration files, reads the applied versions in one query and prints what
// is pending. No lock, no checksums, no history-table creation. With
// -select1 it runs SELECT 1 instead of reading the history: W6's reference
// crowd, the least each of the other runners could do.
//
// With -checksums it also checks integrity, as W2's target asks: it reads
// every file and hashes it with SHA-256 while a second goroutine connects
// and reads the versions with their checksums, then counts the files whose
// checksum differs, and exits 1 when any does. The least a no-op check that
// notices an edited migration can do: the no-op workloads' second reference
// row.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

func main() {
	url := flag.String("d", "", "database URL")
	dir := flag.String("dir", "migrations", "migrations folder")
	table := flag.String("table", "schema_versions", "history table")
	select1 := flag.Bool("select1", false, "run SELECT 1 instead of reading the history (W6's reference crowd, which starts before the history exists)")
	checksums := flag.Bool("checksums", false, "also read and hash every file and compare with the history's checksum column")
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
	if *checksums {
		checked(ctx, *url, *dir, *table, files)
		return
	}
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

// checked is -checksums: the history is read while the files are hashed.
func checked(ctx context.Context, url, dir, table string, files map[int64]string) {
	type history struct {
		sums map[int64]string
		err  error
	}
	read := make(chan history, 1)
	go func() {
		h := history{sums: map[int64]string{}}
		defer func() { read <- h }()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			h.err = fmt.Errorf("connect: %w", err)
			return
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+table)
		if err != nil {
			h.err = fmt.Errorf("reading %s: %w", table, err)
			return
		}
		for rows.Next() {
			var v int64
			var sum string
			if err := rows.Scan(&v, &sum); err != nil {
				h.err = fmt.Errorf("reading %s: %w", table, err)
				return
			}
			h.sums[v] = sum
		}
		if err := rows.Err(); err != nil {
			h.err = fmt.Errorf("reading %s: %w", table, err)
		}
	}()
	// open, read to the end, close: no fstat, no poller; one buffer.
	sums := make(map[int64]string, len(files))
	buf := make([]byte, 64<<10)
	for v, name := range files {
		path := filepath.Join(dir, name)
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			fail(fmt.Errorf("open %s: %w", path, err))
		}
		h := sha256.New()
		for {
			n, err := syscall.Read(fd, buf)
			if err != nil {
				fail(fmt.Errorf("read %s: %w", path, err))
			}
			if n == 0 {
				break
			}
			h.Write(buf[:n])
		}
		syscall.Close(fd)
		sums[v] = hex.EncodeToString(h.Sum(nil))
	}
	hist := <-read
	if hist.err != nil {
		fail(hist.err)
	}
	applied, modified := 0, 0
	for v, sum := range hist.sums {
		if got, ok := sums[v]; ok {
			applied++
			if got != sum {
				modified++
			}
		}
	}
	fmt.Printf("%d applied, %d pending, %d modified\n", applied, len(files)-applied, modified)
	if modified > 0 {
		// The benchmark's files and history match: a difference means the
		// comparison is not measuring what it should.
		fail(fmt.Errorf("%d of the files in %s differ from their checksums in %s: the benchmark wrote both, so the files or the table were changed since; run the suite again, which generates both afresh", modified, dir, table))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "listver:", err)
	os.Exit(1)
}
