package main

import (
	"archive/zip"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runwaydb/runway/internal/testdb"
)

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) != "" {
		if g := os.Getenv(signalGraceEnv); g != "" {
			d, err := time.ParseDuration(g)
			if err != nil {
				panic(err)
			}
			signalGrace = d
		}
		main() // this test binary is the runway command (TestSessionsEndCleanlyAtExit)
	}
	testscript.Main(testdb.Wrap(m), map[string]func(){
		"runway": func() {
			os.Exit(runProcess(context.Background(), nil))
		},
	})
}

// TestScripts runs the CLI as a user does: testdata/script/*.txtar, each with
// a fresh PostgreSQL database ($PG_URL) and MariaDB database ($MYSQL_URL).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// No test may reach the EC2 metadata address for AWS credentials.
			env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			env.Setenv("PG_URL", testdb.Postgres(t))
			my := testdb.MySQL(t)
			env.Setenv("MYSQL_URL", my)
			if u, err := url.Parse(my); err == nil {
				env.Setenv("MYSQL_PORT", u.Port())
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exit N CMD ARGS… runs CMD and requires exit code N (stdout and stderr are kept for checks).
			"exit": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || neg {
					ts.Fatalf("usage: exit CODE COMMAND [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			// sleep DURATION pauses the script (to let a background runner take the lock).
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: sleep DURATION")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			// writehex FILE HEX writes the bytes HEX encodes (for invalid UTF-8).
			"writehex": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: writehex FILE HEX")
				}
				b, err := hex.DecodeString(args[1])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
			},
			// zip OUT.zip DIR [NAME=TARGET] packs DIR's files under their paths relative
			// to the script's work folder; NAME=TARGET adds a symlink entry (a hostile archive).
			"zip": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: zip OUT.zip DIR [NAME=TARGET...]")
				}
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				zw := zip.NewWriter(f)
				root := ts.MkAbs(".")
				ts.Check(filepath.WalkDir(ts.MkAbs(args[1]), func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(root, p)
					w, err := zw.Create(filepath.ToSlash(rel))
					if err != nil {
						return err
					}
					data, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					_, err = w.Write(data)
					return err
				}))
				for _, link := range args[2:] {
					name, target, _ := strings.Cut(link, "=")
					h := &zip.FileHeader{Name: name}
					h.SetMode(fs.ModeSymlink | 0o777)
					w, err := zw.CreateHeader(h)
					ts.Check(err)
					w.Write([]byte(target))
				}
				ts.Check(zw.Close())
				ts.Check(f.Close())
			},
			// crlf FILE rewrites FILE with Windows line endings and a BOM, as a Windows checkout would.
			"crlf": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: crlf FILE")
				}
				data := ts.ReadFile(args[0])
				data = "\ufeff" + strings.ReplaceAll(data, "\n", "\r\n")
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(data), 0o644))
			},
		},
	})
}
