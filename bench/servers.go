package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// server is a throw-away database server started for the run.
type server struct {
	engine  string // "postgres" or "mariadb"
	port    int
	version string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited, with its error in waitErr
	waitErr error
	log     string
}

// serverSettings is printed with the results: durability is off on both
// servers, for every tool and floor alike. Neither offers TLS, so every
// client talks in the clear, which the proxy's query count needs (MariaDB
// 11.4 and later make a certificate at start unless told not to, and the
// mariadb client uses TLS whenever it is offered).
const serverSettings = "PostgreSQL: fsync=off, synchronous_commit=off, full_page_writes=off, ssl=off; " +
	"MariaDB: innodb_flush_log_at_trx_commit=0, innodb_doublewrite=0, innodb_flush_method=nosync, no binlog, skip-ssl"

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// credential runs a server as the named system user when we are root:
// initdb/postgres refuse root, mariadbd is told --user too.
func credential(name string) (*syscall.SysProcAttr, int, int, error) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() != 0 {
		return attr, -1, -1, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs the %q system user: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return attr, uid, gid, nil
}

func chownR(dir string, uid, gid int) error {
	if uid < 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// findBinary finds an installed program, preferring PostgreSQL's own
// binaries over Debian's wrappers (/usr/bin/psql is a Perl script that picks
// a cluster: timing it would time Perl).
func findBinary(names ...string) (string, error) {
	for _, n := range names {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + n); len(m) > 0 {
			return m[len(m)-1], nil
		}
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/local/bin", "/usr/sbin", "/usr/local/sbin"} {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %v found (install PostgreSQL 15+ and MariaDB server + client)", names)
}

func runAs(attr *syscall.SysProcAttr, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", filepath.Base(name), err, b)
	}
	return nil
}

func startPostgres(work string) (*server, error) {
	initdb, err := findBinary("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := findBinary("postgres")
	if err != nil {
		return nil, err
	}
	attr, uid, gid, err := credential("postgres")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "pg")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := chownR(dir, uid, gid); err != nil {
		return nil, err
	}
	if err := runAs(attr, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{engine: "postgres", port: port, log: filepath.Join(dir, "postgres.log"), exited: make(chan struct{})}
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=256MB",
		"-c", "max_locks_per_transaction=256", "-c", "ssl=off")
	s.cmd.SysProcAttr = attr
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.waitErr = s.cmd.Wait(); logf.Close(); close(s.exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			conn.QueryRow(ctx, "SHOW server_version").Scan(&s.version)
			conn.Close(ctx)
			return s, nil
		}
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.log)
			return nil, fmt.Errorf("postgres exited: %v\n%s", s.waitErr, b)
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("postgres did not accept connections: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func startMariaDB(work string) (*server, error) {
	install, err := findBinary("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	mariadbd, err := findBinary("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	_, uid, gid, err := credential("mysql")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "mariadb")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	if err := chownR(dir, uid, gid); err != nil {
		return nil, err
	}
	userArg := []string{}
	if uid >= 0 {
		userArg = []string{"--user=mysql"}
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, userArg...)
	icmd := exec.Command(install, args...)
	icmd.Dir = "/"
	if b, err := icmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, b)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{engine: "mariadb", port: port, log: filepath.Join(dir, "mariadbd.log"), exited: make(chan struct{})}
	sock := filepath.Join(dir, "mysqld.sock")
	margs := append([]string{"--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket=" + sock, "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--skip-log-bin", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
		"--innodb-flush-method=nosync", "--innodb-buffer-pool-size=256M", "--max-connections=200",
		"--skip-name-resolve", "--skip-ssl", "--log-error=" + s.log}, userArg...)
	s.cmd = exec.Command(mariadbd, margs...)
	s.cmd.Dir = "/"
	// mariadbd drops to --user itself; it must start as root for that.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		// root@localhost over the socket, then a root@127.0.0.1 for TCP
		// (--skip-name-resolve: 127.0.0.1 is not "localhost").
		cfg := mysql.NewConfig()
		cfg.User, cfg.Net, cfg.Addr = "root", "unix", sock
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			err = db.Ping()
			if err == nil {
				for _, q := range []string{
					"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
					"GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
				} {
					if _, err = db.Exec(q); err != nil {
						break
					}
				}
				if err == nil {
					err = db.QueryRow("SELECT VERSION()").Scan(&s.version)
				}
			}
			db.Close()
			if err == nil {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.log)
			return nil, fmt.Errorf("mariadbd exited: %v\n%s", s.waitErr, b)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("mariadbd did not accept connections: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if s.engine == "postgres" {
		sig = syscall.SIGINT // fast shutdown
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// url is the URL of database db on this server at port (the server's own
// port, or a proxy's).
func (s *server) urlAt(port int, db string) string {
	if s.engine == "postgres" {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
	}
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", port, db)
}

func (s *server) url(db string) string { return s.urlAt(s.port, db) }

func (s *server) mysqlDSN(port int, db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", port, db)
}

// exec runs admin statements on the server (database "postgres" / none).
func (s *server) exec(db string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s.engine == "postgres" {
		if db == "" {
			db = "postgres"
		}
		conn, err := pgx.Connect(ctx, s.url(db))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		for _, q := range stmts {
			if _, err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %v", q, err)
			}
		}
		return nil
	}
	sdb, err := sql.Open("mysql", s.mysqlDSN(s.port, db))
	if err != nil {
		return err
	}
	defer sdb.Close()
	for _, q := range stmts {
		if _, err := sdb.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %v", q, err)
		}
	}
	return nil
}

// count runs a one-value query in database db.
func (s *server) count(db, q string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int64
	if s.engine == "postgres" {
		conn, err := pgx.Connect(ctx, s.url(db))
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		err = conn.QueryRow(ctx, q).Scan(&n)
		return n, err
	}
	sdb, err := sql.Open("mysql", s.mysqlDSN(s.port, db))
	if err != nil {
		return 0, err
	}
	defer sdb.Close()
	err = sdb.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

func (s *server) createDB(name string) error {
	return s.exec("", "CREATE DATABASE "+name)
}

func (s *server) dropDB(name string) error {
	if s.engine == "postgres" {
		return s.exec("", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return s.exec("", "DROP DATABASE IF EXISTS "+name)
}

// tableCount is how many tables named t_N database db holds.
func (s *server) tableCount(db string) (int64, error) {
	if s.engine == "postgres" {
		return s.count(db, `SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 't\_%'`)
	}
	return s.count(db, fmt.Sprintf(`SELECT count(*) FROM information_schema.tables WHERE table_schema = '%s' AND table_name LIKE 't\_%%'`, db))
}

func dbIdent(parts ...string) string {
	s := strings.ToLower(strings.Join(parts, "_"))
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_' // "-", ".", "+" …: an identifier needs no quoting
	}, s)
}
