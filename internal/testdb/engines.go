package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// binaries are the two programs of an engine: the one that creates a data
// directory and the server.
type binaries struct {
	init, server string
}

// Where distributions put server binaries that are not on $PATH.
var (
	postgresDirs = []string{
		"/usr/lib/postgresql/*/bin", // Debian, Ubuntu
		"/usr/pgsql-*/bin",          // PGDG RPMs
		"/usr/local/pgsql/bin",      // built from source
		"/opt/homebrew/opt/postgresql@*/bin",
		"/usr/local/opt/postgresql@*/bin",
	}
	mariadbDirs = []string{"/usr/sbin", "/usr/bin", "/usr/libexec", "/usr/local/mysql/bin", "/usr/local/mysql/scripts",
		"/opt/homebrew/opt/mariadb/bin", "/usr/local/opt/mariadb/bin"}
)

// findPostgres finds initdb and postgres, from the same installation: on
// $PATH (following symbolic links to the real directory), else the newest
// version in the usual directories.
func findPostgres() (binaries, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, pattern := range postgresDirs {
		matches, _ := filepath.Glob(pattern)
		slices.SortFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		b := binaries{init: filepath.Join(d, "initdb"), server: filepath.Join(d, "postgres")}
		if executable(b.init) && executable(b.server) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found on $PATH or in %s; install them (Debian: apt-get install postgresql) or set %s",
		strings.Join(postgresDirs, ", "), EnvPostgres)
}

// versionOf returns the first number in a path like /usr/lib/postgresql/15/bin.
func versionOf(path string) int {
	f := strings.FieldsFunc(path, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// findMariaDB finds mariadbd and mariadb-install-db on $PATH or in the usual
// directories.
func findMariaDB() (binaries, error) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range mariadbDirs {
			if p := filepath.Join(d, name); executable(p) {
				return p
			}
		}
		return ""
	}
	b := binaries{init: find("mariadb-install-db"), server: find("mariadbd")}
	if b.init == "" || b.server == "" {
		return binaries{}, fmt.Errorf("MariaDB server binaries (mariadbd, mariadb-install-db) not found on $PATH or in %s; install them (Debian: apt-get install mariadb-server) or set %s",
			strings.Join(mariadbDirs, ", "), EnvMySQL)
	}
	return b, nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// unprivileged returns the user to run PostgreSQL as when this process is
// root: the "postgres" user the distribution packages create, or "nobody".
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres or nobody user to run it as")
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// initData creates the server's data directory, tuned for speed over
// durability: nothing is synced to disk.
func (s *Server) initData() error {
	switch s.engine {
	case PostgreSQL:
		args := []string{"-D", s.dataDir(), "-U", s.user, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"}
		if s.password != "" {
			pwFile := filepath.Join(s.dir, "pwfile")
			if err := os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600); err != nil {
				return err
			}
			defer os.Remove(pwFile)
			if err := s.chown(pwFile); err != nil {
				return err
			}
			args = append(args, "--pwfile="+pwFile)
		}
		if err := s.run(time.Minute, s.bins.init, args...); err != nil {
			return err
		}
		if s.tls == nil && s.password == "" {
			return nil // initdb's trust for all
		}
		return os.WriteFile(filepath.Join(s.dataDir(), "pg_hba.conf"), []byte(s.pgHBA()), 0o600)
	default:
		// Each server's temporary tables go in a folder of its own, not the
		// shared /tmp: bootstraps running side by side there once failed
		// (a temporary table gone before the bootstrap dropped it).
		if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
			return err
		}
		args := []string{"--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db",
			"--datadir=" + s.dataDir()}
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		// The remaining options go to the bootstrapping mariadbd.
		args = append(args, "--tmpdir="+s.tmpDir())
		args = append(args, mariadbTuning...)
		return s.run(time.Minute, s.bins.init, args...)
	}
}

// pgHBA is the pg_hba.conf of a server started WithTLS or WithPassword: the
// unix socket is trusted; TCP connections must use TLS (hostssl: a plaintext
// one matches no line and is refused) and give the password, as asked.
func (s *Server) pgHBA() string {
	typ, method := "host", "trust"
	if s.tls != nil {
		typ = "hostssl"
	}
	if s.password != "" {
		method = "scram-sha-256"
	}
	return fmt.Sprintf("# written by runway's testdb\n"+
		"local all all trust\n"+
		"%[1]s all all 127.0.0.1/32 %[2]s\n"+
		"%[1]s all all ::1/128 %[2]s\n", typ, method)
}

// mariadbTuning are options for both the bootstrapping and the running
// mariadbd. Commits are written to the operating system at once (so a
// killed server loses nothing), synced once a second. Native AIO is off:
// dozens of servers at once would exhaust the kernel's aio-max-nr.
var mariadbTuning = []string{
	"--innodb-log-file-size=32M",
	"--innodb-flush-log-at-trx-commit=2",
	"--innodb-use-native-aio=0",
	"--skip-log-bin",
	"--character-set-server=utf8mb4",
	"--collation-server=utf8mb4_general_ci",
}

// tmpDir is where a MariaDB server keeps its temporary tables and files.
func (s *Server) tmpDir() string { return filepath.Join(s.dir, "tmp") }

// serverCommand returns the command line that runs the server.
func (s *Server) serverCommand() (string, []string) {
	port := strconv.Itoa(s.port)
	switch s.engine {
	case PostgreSQL:
		args := []string{"-D", s.dataDir(), "-F", "-p", port, "-k", s.dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
		if s.tls != nil {
			args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file="+s.tls.serverCert,
				"-c", "ssl_key_file="+s.tls.serverKey, "-c", "ssl_ca_file="+s.tls.caFile)
		}
		return s.bins.server, append(args, s.opts.args...)
	default:
		args := []string{"--no-defaults", "--datadir=" + s.dataDir(), "--port=" + port,
			"--bind-address=127.0.0.1", "--socket=" + filepath.Join(s.dir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(s.dir, "mariadbd.pid"), "--skip-name-resolve",
			"--max-connections=200", "--tmpdir=" + s.tmpDir()}
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		if s.tls != nil {
			args = append(args, "--ssl-cert="+s.tls.serverCert, "--ssl-key="+s.tls.serverKey,
				"--ssl-ca="+s.tls.caFile, "--require-secure-transport=ON")
		}
		return s.bins.server, append(append(args, mariadbTuning...), s.opts.args...)
	}
}

// deathSignal is what the kernel sends the server when this process dies:
// for PostgreSQL an immediate shutdown, which also frees its shared memory.
func (s *Server) deathSignal() syscall.Signal {
	if s.engine == PostgreSQL {
		return syscall.SIGQUIT
	}
	return syscall.SIGKILL
}

// ping checks that the server accepts connections and queries.
func (s *Server) ping(ctx context.Context) error {
	switch s.engine {
	case PostgreSQL:
		conn, err := pgx.Connect(ctx, s.ServerURL())
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(ctx)
	default:
		db, err := s.mysqlAdmin()
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	}
}

func (s *Server) mysqlAdmin() (*sql.DB, error) {
	cfg, err := s.mysqlConfig("")
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// mysqlConfig is the driver configuration of testdb's own connections to
// database db of a MariaDB server: as URL's user, over TLS verified with
// the server's CA if it has one.
func (s *Server) mysqlConfig(db string) (*mysql.Config, error) {
	u, err := url.Parse(s.ServerURL())
	if err != nil {
		return nil, err
	}
	cfg := mysqlConfig(u, db)
	if s.tls != nil {
		cfg.TLS = s.tls.clientConfig()
	}
	return cfg, nil
}

// setMySQLPassword gives the WithPassword user its password, creating it with
// every privilege unless it exists (root does), and has URL use it.
func (s *Server) setMySQLPassword() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := s.mysqlAdmin()
	if err != nil {
		return err
	}
	defer db.Close()
	hosts, err := mysqlHosts(ctx, db, s.opts.user)
	if err != nil {
		return fmt.Errorf("mariadb: WithPassword: %v", err)
	}
	user, pw := quoteMySQL(s.opts.user), quoteMySQL(s.opts.password)
	stmts := []string{
		"CREATE USER " + user + "@'%' IDENTIFIED BY " + pw,
		"GRANT ALL PRIVILEGES ON *.* TO " + user + "@'%' WITH GRANT OPTION",
	}
	if len(hosts) > 0 {
		stmts = nil
		for _, h := range hosts {
			if byName(h) {
				// mariadbd --skip-name-resolve ignores such an account (root@HOSTNAME)
				// and refuses to alter it.
				continue
			}
			stmts = append(stmts, "ALTER USER "+user+"@"+quoteMySQL(h)+" IDENTIFIED BY "+pw)
		}
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			// The statement holds the password: name the user only.
			return fmt.Errorf("mariadb: WithPassword: set the password of %s: %v", s.opts.user, err)
		}
	}
	s.user, s.password = s.opts.user, s.opts.password
	return nil
}

// byName reports whether an account's host is a host name, not localhost,
// an address or a pattern.
func byName(host string) bool {
	return host != "localhost" && net.ParseIP(host) == nil && !strings.ContainsAny(host, "%_/")
}

// mysqlHosts lists the hosts of the accounts named user.
func mysqlHosts(ctx context.Context, db *sql.DB, user string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ?", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, rows.Err()
}

// dropAnonymousUsers removes the anonymous accounts mariadb-install-db
// creates: they would match before a test's own 'user'@'%'.
func (s *Server) dropAnonymousUsers() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := s.mysqlAdmin()
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ''")
	if err != nil {
		return fmt.Errorf("mariadb: list anonymous users: %v", err)
	}
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		hosts = append(hosts, h)
	}
	rows.Close()
	for _, h := range hosts {
		if _, err := db.ExecContext(ctx, "DROP USER ''@"+quoteMySQL(h)); err != nil {
			return fmt.Errorf("mariadb: drop anonymous user @%s: %v", h, err)
		}
	}
	return nil
}

func quoteMySQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Program returns the path of a client program installed with a server's
// binaries, for tests that run it as a user would: one of PostgreSQL's
// (pg_dump, psql) from the installation whose server the tests start, else
// one of MariaDB's (mariadb-dump, mariadb) from the usual directories. A
// test that needs it and finds none fails.
func Program(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if b, err := findPostgres(); err == nil {
		dirs = append(dirs, filepath.Dir(b.server))
	}
	dirs = append(dirs, mariadbDirs...)
	for _, d := range dirs {
		if p := filepath.Join(d, name); executable(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("testdb: %s not found next to the PostgreSQL server binaries, in %s or on $PATH; install it (Debian: apt-get install postgresql mariadb-server)",
		name, strings.Join(mariadbDirs, ", "))
	return ""
}
