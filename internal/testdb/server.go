package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engine names a database server program this package can start.
type Engine string

// The engines: PostgreSQL (initdb + postgres) and MariaDB
// (mariadb-install-db + mariadbd).
const (
	PostgreSQL Engine = "postgres"
	MariaDB    Engine = "mariadb"
)

// dirPrefix starts the name of every directory this package creates under
// os.TempDir, followed by the owning process id.
const dirPrefix = "runway-testdb-"

// readyTimeout bounds how long a server may take to accept connections.
const readyTimeout = 30 * time.Second

// Server is a throw-away database server: its own data directory under
// os.TempDir and its own loopback port. Servers from StartPostgres and
// StartMySQL belong to one test, fail it on error and are removed when it
// ends; a Server's methods are called from that test's goroutine.
type Server struct {
	engine Engine
	t      testing.TB // owner, for failures; nil for a Launch-ed server
	dir    string     // everything lives here: data, socket, log
	port   int
	runAs  *syscall.Credential // nil: run as this process's user
	bins   binaries
	opts   options
	tls    *tlsFiles // nil unless WithTLS
	// user and password are what URL connects with: postgres or root and no
	// password unless WithPassword (for MariaDB, once the account exists).
	user, password string

	// Startup tells how long the server took to set up and start.
	Startup string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartPostgres starts a PostgreSQL server for this test alone, for tests
// that stop, kill or restart it or need it configured (WithTLS,
// WithPassword). It is removed when the test ends.
func StartPostgres(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return startFor(t, PostgreSQL, opts...)
}

// StartMySQL starts a MariaDB server for this test alone, for tests that
// stop, kill or restart it or need it configured (WithTLS, WithPassword). It
// is removed when the test ends.
func StartMySQL(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return startFor(t, MariaDB, opts...)
}

func startFor(t testing.TB, e Engine, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(e, opts...)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	s.t = t
	t.Logf("testdb: %s", s.Startup)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return s
}

// Launch starts a throw-away server outside the life of any one test, as the
// shared servers and cmd/testservers do; the caller must Close it. It returns
// once the server accepts connections.
func Launch(e Engine, opts ...Option) (*Server, error) {
	sweepOnce.Do(sweep)
	s := &Server{engine: e}
	for _, o := range opts {
		if err := o(&s.opts); err != nil {
			return nil, err
		}
	}
	var err error
	switch e {
	case PostgreSQL:
		s.bins, err = findPostgres()
		s.user = "postgres"
		if s.opts.password != "" { // set by initdb
			s.user, s.password = s.opts.user, s.opts.password
		}
	case MariaDB:
		s.bins, err = findMariaDB()
		s.user = "root"
	default:
		return nil, fmt.Errorf("unknown engine %q", e)
	}
	if err != nil {
		return nil, err
	}
	if e == PostgreSQL && os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if s.runAs, err = unprivileged(); err != nil {
			return nil, err
		}
	}
	s.dir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), e))
	if err != nil {
		return nil, err
	}
	if err := s.chown(s.dir); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	track(s)
	if s.opts.tls {
		if err := s.writeTLS(); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: TLS certificates: %v", e, err)
		}
	}
	if err := s.launch(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// launch initialises the data directory and starts the server on a free
// port, trying another port if the chosen one was taken meanwhile.
func (s *Server) launch() error {
	began := time.Now()
	if err := s.initData(); err != nil {
		return err
	}
	initTime := time.Since(began)
	var err error
	for range 3 {
		if s.port, err = freePort(); err != nil {
			return err
		}
		if err = s.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		return err
	}
	if s.engine == MariaDB {
		if err := s.dropAnonymousUsers(); err != nil {
			return err
		}
		if s.opts.password != "" {
			if err := s.setMySQLPassword(); err != nil {
				return err
			}
		}
	}
	var with []string
	if s.tls != nil {
		with = append(with, "TLS only")
	}
	if s.opts.password != "" {
		with = append(with, "password for "+s.user)
	}
	s.Startup = fmt.Sprintf("%s on 127.0.0.1:%d ready in %v (data directory %v), in %s", s.engine, s.port,
		time.Since(began).Round(time.Millisecond), initTime.Round(time.Millisecond), s.dir)
	if len(with) > 0 {
		s.Startup += " (" + strings.Join(with, ", ") + ")"
	}
	return nil
}

// Port returns the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Dir returns the directory holding the server's data, socket and log.
func (s *Server) Dir() string { return s.dir }

// URL returns the URL of database db on the server, as its superuser
// (postgres or root, or the user of WithPassword, with the password),
// without creating it. For a server started WithTLS the URL verifies the
// server's certificate against CAFile: sslmode=verify-full&sslrootcert=… for
// PostgreSQL, ssl-ca=… (which Runway's MySQL driver understands) for MariaDB.
func (s *Server) URL(db string) string {
	user := s.user
	if user == "" { // a Server literal, as in tests of this package
		user = map[Engine]string{PostgreSQL: "postgres", MariaDB: "root"}[s.engine]
	}
	userinfo := url.User(user)
	if s.password != "" {
		userinfo = url.UserPassword(user, s.password)
	}
	switch s.engine {
	case PostgreSQL:
		query := "sslmode=disable"
		if s.tls != nil {
			query = "sslmode=verify-full&sslrootcert=" + queryValue(s.tls.caFile)
		}
		return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?%s", userinfo, s.port, db, query)
	default:
		u := fmt.Sprintf("mysql://%s@127.0.0.1:%d/%s", userinfo, s.port, db)
		if s.tls != nil {
			u += "?ssl-ca=" + queryValue(s.tls.caFile)
		}
		return u
	}
}

// ServerURL returns the URL to connect to for creating databases, fit for
// RUNWAY_TEST_POSTGRES / RUNWAY_TEST_MYSQL: the postgres database, or no
// database for MariaDB.
func (s *Server) ServerURL() string {
	if s.engine == PostgreSQL {
		return s.URL("postgres")
	}
	return s.URL("")
}

// NewDatabase creates an empty database on the server and returns its URL;
// it is dropped when t ends, if the server is still up.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	if s.engine == PostgreSQL {
		return newPostgresDB(t, s.ServerURL())
	}
	if s.tls != nil {
		return s.newMySQLDBTLS(t)
	}
	return newMySQLDB(t, s.ServerURL())
}

// Stop shuts the server down cleanly, as an operator would.
func (s *Server) Stop() {
	s.helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.fail(fmt.Errorf("%s: Stop: not running", s.engine))
		return
	}
	sig := syscall.SIGTERM // mariadbd: normal shutdown
	if s.engine == PostgreSQL {
		sig = syscall.SIGINT // postgres: "fast" shutdown, ending sessions
	}
	if err := s.halt(sig, time.Minute); err != nil {
		s.fail(err)
	}
}

// Kill kills the server and all its processes with SIGKILL, as a crash
// would; Start then recovers it.
func (s *Server) Kill() {
	s.helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.fail(fmt.Errorf("%s: Kill: not running", s.engine))
		return
	}
	if err := s.halt(syscall.SIGKILL, 0); err != nil {
		s.fail(err)
	}
}

// Start starts a stopped or killed server again, on the same port and data
// directory, and returns once it accepts connections.
func (s *Server) Start() {
	s.helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.fail(fmt.Errorf("%s: Start: already running", s.engine))
		return
	}
	if err := s.start(); err != nil {
		s.fail(err)
	}
}

// Close stops the server, quickly and without care for its data, and
// removes its directory. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	untrack(s)
	var err error
	if s.cmd != nil {
		sig := syscall.SIGKILL
		if s.engine == PostgreSQL {
			sig = syscall.SIGQUIT // immediate shutdown, which frees its shared memory
		}
		err = s.halt(sig, 10*time.Second)
	}
	if s.dir != "" {
		if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
			err = rmErr
		}
		s.dir = ""
	}
	return err
}

func (s *Server) helper() {
	if s.t != nil {
		s.t.Helper()
	}
}

func (s *Server) fail(err error) {
	if s.t == nil {
		panic("testdb: " + err.Error())
	}
	s.t.Helper()
	s.t.Fatalf("testdb: %v", err)
}

var errPortTaken = errors.New("port taken")

// start runs the server process and waits until it accepts connections.
// The caller holds s.mu or has the server to itself.
func (s *Server) start() error {
	path, args := s.serverCommand()
	logFile, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own copy
	fmt.Fprintf(logFile, "\n%s%s %s\n", logMarker, path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(s.runAs, s.deathSignal())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %v", s.engine, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	// Recorded so a later run can kill the server should this process die
	// without stopping it (see sweep).
	os.WriteFile(filepath.Join(s.dir, "server.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		pingCtx, pingCancel := context.WithTimeout(ctx, 2*time.Second)
		err = s.ping(pingCtx)
		pingCancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			waitGroupGone(cmd.Process.Pid, 5*time.Second)
			tail := s.logTail()
			if portTaken(s.lastRunLog()) {
				return fmt.Errorf("%s: %w: %d:\n%s", s.engine, errPortTaken, s.port, tail)
			}
			return fmt.Errorf("%s exited at start-up (%v); log %s:\n%s", s.engine, cmd.ProcessState, s.logPath(), tail)
		case <-ctx.Done():
			s.halt(syscall.SIGKILL, 0)
			return fmt.Errorf("%s not accepting connections on port %d after %v (last error: %v); log %s:\n%s",
				s.engine, s.port, readyTimeout, err, s.logPath(), s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// halt sends sig to the server and waits up to grace for it to exit before
// killing its whole process group; then it waits for every process of the
// group to be gone, so that a restart finds no old process holding the data
// directory. The caller holds s.mu.
func (s *Server) halt(sig syscall.Signal, grace time.Duration) error {
	pid := s.cmd.Process.Pid
	var err error
	if sig == syscall.SIGKILL {
		// PostgreSQL's backends are outside the group (see descendants) and
		// would live on a moment, holding the shared memory a restart needs.
		children := descendants(pid)
		syscall.Kill(-pid, syscall.SIGKILL)
		for _, c := range children {
			syscall.Kill(c, syscall.SIGKILL)
		}
		if !waitPIDsGone(children, 10*time.Second) {
			err = fmt.Errorf("%s: processes %v still running after SIGKILL", s.engine, children)
		}
	} else {
		s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(grace):
			err = fmt.Errorf("%s did not stop within %v of %v; killed it; log %s:\n%s",
				s.engine, grace, sig, s.logPath(), s.logTail())
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	<-s.done
	if !waitGroupGone(pid, 10*time.Second) {
		syscall.Kill(-pid, syscall.SIGKILL)
		if !waitGroupGone(pid, 10*time.Second) && err == nil {
			err = fmt.Errorf("%s: processes of group %d still running after SIGKILL", s.engine, pid)
		}
	}
	s.cmd, s.done = nil, nil
	return err
}

func portTaken(log string) bool {
	for _, m := range []string{"Address already in use", "could not bind", "Can't start server: Bind on TCP/IP port"} {
		if strings.Contains(log, m) {
			return true
		}
	}
	return false
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

// LogPath returns the file that receives the server's log (its standard
// output and error).
func (s *Server) LogPath() string { return s.logPath() }

// logTail returns the last lines of the server's log, for error messages.
func (s *Server) logTail() string {
	return tail(s.logPath(), 40)
}

// lastRunLog returns the log of the latest start only.
func (s *Server) lastRunLog() string {
	b, _ := os.ReadFile(s.logPath())
	if i := bytes.LastIndex(b, []byte(logMarker)); i >= 0 {
		b = b[i:]
	}
	return string(b)
}

const logMarker = "==== testdb: "

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\t" + string(bytes.Join(lines, []byte("\n\t")))
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// childEnv is this process's environment without the variables that would
// steer the servers or their tools elsewhere.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "MYSQL") || strings.HasPrefix(k, "MARIADB") ||
			strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// run runs a set-up command (initdb, mariadb-install-db) as the server's
// user, failing with its output.
func (s *Server) run(timeout time.Duration, path string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr(s.runAs, syscall.SIGKILL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", path, strings.Join(args, " "), err, out)
	}
	return nil
}

// chown gives path to the user the server runs as.
func (s *Server) chown(path string) error {
	if s.runAs == nil {
		return nil
	}
	return os.Chown(path, int(s.runAs.Uid), int(s.runAs.Gid))
}

// Every server this process started and has not closed, for Main and
// signal handling.
var (
	liveMu sync.Mutex
	live   = map[*Server]bool{}
)

func track(s *Server) {
	liveMu.Lock()
	live[s] = true
	liveMu.Unlock()
}

func untrack(s *Server) {
	liveMu.Lock()
	delete(live, s)
	liveMu.Unlock()
}

// closeAll closes every server this process still has.
func closeAll() {
	liveMu.Lock()
	var all []*Server
	for s := range live {
		all = append(all, s)
	}
	liveMu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() {
			if err := s.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "testdb: %v\n", err)
			}
		})
	}
	wg.Wait()
}

var sweepOnce sync.Once

// sweep removes what earlier test processes left under os.TempDir when they
// died without cleaning up (killed by a timeout, a panic): for each
// directory whose owner process is gone, it kills the server still running
// from it, if any, and removes the directory.
func sweep() {
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), dirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		owner, err := strconv.Atoi(pidText)
		if err != nil || owner == os.Getpid() || processExists(owner) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		if b, err := os.ReadFile(filepath.Join(dir, "server.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processUsesDir(pid, dir) {
				syscall.Kill(-pid, syscall.SIGKILL)
				waitGroupGone(pid, 5*time.Second)
			}
		}
		os.RemoveAll(dir)
	}
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
