package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// peer is a migration tool built from its own Go module at a pinned version.
// Each is built with the module's own go.mod (go install pkg@version, as its
// users get it), not with this module's dependency graph, and static
// (CGO_ENABLED=0) like Runway's release build: no tool pays the dynamic
// loader at start-up that another does not, and a first run does not
// compile the C SQLite that go-sqlite3 brings with cgo (sql-migrate, dbmate).
// Only golang-migrate is built with a driver list (its drivers are opt-in
// build tags); goose is built with all its drivers, as `go install` gives
// it, not as the lite build its README describes.
type peer struct {
	name    string // the name used in tables and -tools
	binary  string // file name in bench/bin
	module  string // module path
	pkg     string // package to build, inside the module
	version string
	tags    string
}

// peers are the pinned peer CLIs: the versions issue 4 compared against.
var peers = []peer{
	{name: "goose", binary: "goose", module: "github.com/pressly/goose/v3", pkg: "github.com/pressly/goose/v3/cmd/goose", version: "v3.27.0"},
	{name: "golang-migrate", binary: "migrate", module: "github.com/golang-migrate/migrate/v4", pkg: "github.com/golang-migrate/migrate/v4/cmd/migrate", version: "v4.19.0", tags: "postgres mysql"},
	{name: "sql-migrate", binary: "sql-migrate", module: "github.com/rubenv/sql-migrate", pkg: "github.com/rubenv/sql-migrate/sql-migrate", version: "v1.8.0"},
	{name: "dbmate", binary: "dbmate", module: "github.com/amacneil/dbmate/v2", pkg: "github.com/amacneil/dbmate/v2", version: "v2.35.0"},
}

// stampFile records which module@version+tags a cached binary was built from.
func stampFile(bin string, p peer) string {
	return filepath.Join(bin, "."+p.binary+".stamp")
}

func (p peer) stamp() string { return p.pkg + "@" + p.version + " tags=" + p.tags + " " + peerCgo }

// build says how p is built, for the JSON results.
func (p peer) build() string {
	if p.tags == "" {
		return peerCgo
	}
	return peerCgo + ", -tags '" + p.tags + "'"
}

// peerCgo is the environment every peer is built with: static, as Runway.
const peerCgo = "CGO_ENABLED=0"

// buildPeer installs p into bin unless the cached binary was built from the
// same pin.
func buildPeer(bin string, p peer, logf func(string, ...any)) error {
	out := filepath.Join(bin, p.binary)
	if b, err := os.ReadFile(stampFile(bin, p)); err == nil && string(b) == p.stamp() {
		if _, err := os.Stat(out); err == nil {
			return nil
		}
	}
	logf("building %s %s (first time only; cached in bench/bin)", p.name, p.version)
	start := time.Now()
	args := []string{"install"}
	if p.tags != "" {
		args = append(args, "-tags", p.tags)
	}
	args = append(args, p.pkg+"@"+p.version)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, peerCgo)
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// go install pkg@version also asks the proxy for the module's version
		// list (deprecation check); where the proxy refuses the list but serves
		// the version, build inside the downloaded module, still with its own
		// go.mod and go.sum.
		logf("go install %s failed (%v); building from the downloaded module instead", p.name, lastLine(stderr.String()))
		if err := buildInModule(out, p); err != nil {
			return err
		}
	}
	logf("built %s in %s", p.name, time.Since(start).Round(time.Second))
	return os.WriteFile(stampFile(bin, p), []byte(p.stamp()), 0o644)
}

func buildInModule(out string, p peer) error {
	dl := exec.Command("go", "mod", "download", "-json", p.module+"@"+p.version)
	dl.Dir = os.TempDir()
	b, err := dl.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %v", p.module, p.version, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(b, &info); err != nil || info.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %s", p.module, p.version, info.Error)
	}
	rel := "." + strings.TrimPrefix(p.pkg, p.module)
	args := []string{"build", "-o", out}
	if p.tags != "" {
		args = append(args, "-tags", p.tags)
	}
	args = append(args, rel)
	cmd := exec.Command("go", args...)
	cmd.Dir = info.Dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", peerCgo)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", p.name, err, b)
	}
	return nil
}

// runwaySource is the folder to build Runway from: the working tree, or with
// ref a copy of that commit made by git archive (which changes nothing in the
// repository). label says which, for the table; flag names the flag that
// gave ref, for the error.
func runwaySource(repo, ref, flag string) (dir, label string, cleanup func(), err error) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	cleanup = func() {}
	if ref == "" {
		label = "working tree"
		if head, err := git("rev-parse", "--short", "HEAD"); err == nil {
			label = "working tree at " + head
			if _, err := git("diff", "--quiet", "HEAD", "--"); err != nil {
				label += " + uncommitted changes"
			}
		}
		return repo, label, cleanup, nil
	}
	commit, err := git("rev-parse", "--short", ref+"^{commit}")
	if err != nil {
		return "", "", cleanup, fmt.Errorf("%s %s: not a commit in %s", flag, ref, repo)
	}
	tmp, err := os.MkdirTemp("", "runway-src-")
	if err != nil {
		return "", "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	tarball := filepath.Join(tmp, "src.tar")
	if _, err := git("archive", "-o", tarball, commit); err != nil {
		cleanup()
		return "", "", func() {}, fmt.Errorf("git archive %s: %v", commit, err)
	}
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		cleanup()
		return "", "", func() {}, err
	}
	if b, err := exec.Command("tar", "-xf", tarball, "-C", src).CombinedOutput(); err != nil {
		cleanup()
		return "", "", func() {}, fmt.Errorf("tar: %v: %s", err, b)
	}
	return src, "commit " + commit, cleanup, nil
}

// buildRunway builds the CLI from the parent folder (the code under test) as
// it ships: static (CGO_ENABLED=0), -trimpath, symbols stripped (see the
// README's release build).
func buildRunway(repo, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/runway")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build runway: %v\n%s", err, b)
	}
	return nil
}

// buildHelper builds one of this module's commands: cmd/listver (the W2/W3
// floor: a tiny Go program that lists the files and reads the applied
// versions) or cmd/measure (the process every timed run starts through).
func buildHelper(name, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", name, err, b)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
