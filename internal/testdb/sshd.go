package testdb

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is a throw-away OpenSSH server on a loopback port, for one test: its
// host keys, the user's key and its configuration live in t.TempDir().
type SSHD struct {
	t    testing.TB
	dir  string
	Addr string // 127.0.0.1:port
	port int
	User string // the user this process runs as; sshd lets it in with userKey

	HostKeys    []ssh.PublicKey // ed25519 first, then ecdsa
	UserKeyFile string          // unencrypted ed25519, OpenSSH format
	UserKey     []byte

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// sshdDirs are where distributions put sshd.
var sshdDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"}

func findSSHD(t testing.TB) string {
	t.Helper()
	for _, d := range sshdDirs {
		p := filepath.Join(d, "sshd")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	t.Fatalf("sshd not found in %s or on $PATH; install it (Debian: apt-get install openssh-server; scripts/test.sh installs it when missing)",
		strings.Join(sshdDirs, ", "))
	return ""
}

// startSSHD starts sshd for this test, accepting userKey (and the keys of
// extraAuthorized) for the current user, and stops it when the test ends.
func StartSSHD(t testing.TB, extraAuthorized ...ssh.PublicKey) *SSHD {
	t.Helper()
	bin := findSSHD(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	s := &SSHD{t: t, dir: t.TempDir(), User: u.Username}
	// sshd wants its privilege separation directory even when it will not
	// chroot into it (Debian creates it from the service unit).
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var hostKeyFiles []string
	for _, typ := range []string{"ed25519", "ecdsa"} {
		path := filepath.Join(s.dir, "ssh_host_"+typ+"_key")
		s.HostKeys = append(s.HostKeys, SSHKeygen(t, path, typ, ""))
		hostKeyFiles = append(hostKeyFiles, path)
	}
	s.UserKeyFile = filepath.Join(s.dir, "id_ed25519")
	authorized := []ssh.PublicKey{SSHKeygen(t, s.UserKeyFile, "ed25519", "")}
	authorized = append(authorized, extraAuthorized...)
	if s.UserKey, err = os.ReadFile(s.UserKeyFile); err != nil {
		t.Fatal(err)
	}
	var ak bytes.Buffer
	for _, k := range authorized {
		ak.Write(ssh.MarshalAuthorizedKey(k))
	}
	WriteFile(t, filepath.Join(s.dir, "authorized_keys"), ak.String())

	for range 3 {
		s.port = FreePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		var config strings.Builder
		fmt.Fprintf(&config, "ListenAddress 127.0.0.1\nPort %d\n", s.port)
		for _, f := range hostKeyFiles {
			fmt.Fprintf(&config, "HostKey %s\n", f)
		}
		fmt.Fprintf(&config, `AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
StrictModes no
UsePAM no
PidFile %s
LogLevel VERBOSE
`, filepath.Join(s.dir, "authorized_keys"), filepath.Join(s.dir, "sshd.pid"))
		WriteFile(t, filepath.Join(s.dir, "sshd_config"), config.String())
		if err = s.start(bin); err == nil || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// start runs sshd in the foreground and waits until it sends its banner.
func (s *SSHD) start(bin string) error {
	log, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// sshd wants an absolute path to itself, to re-execute for each connection.
	cmd := exec.Command(bin, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(nil, syscall.SIGKILL)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sshd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if banner(s.Addr) {
			return nil
		}
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("sshd exited at start-up (%v); log %s:\n%s", cmd.ProcessState, s.logPath(), s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("sshd not answering on %s after 15s; log:\n%s", s.Addr, s.Log())
		}
	}
}

// banner reports whether an SSH server answers on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "SSH-2.0-")
}

func (s *SSHD) logPath() string { return filepath.Join(s.dir, "sshd.log") }

func (s *SSHD) Log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

// processes returns sshd and every process below it: the per-connection
// processes make themselves session leaders (setsid), so the process group
// does not hold them.
func (s *SSHD) processes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	return append([]int{s.cmd.Process.Pid}, descendants(s.cmd.Process.Pid)...)
}

// kill kills sshd and its connections' processes, as a crashed bastion.
func (s *SSHD) Kill() {
	pids := s.processes()
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	s.mu.Lock()
	done := s.done
	s.cmd = nil
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// freeze stops sshd and its connections' processes without closing
// anything, as a bastion that vanished from the network; thaw resumes them.
func (s *SSHD) Freeze() {
	for _, p := range s.processes() {
		syscall.Kill(p, syscall.SIGSTOP)
	}
}

func (s *SSHD) Thaw() {
	for _, p := range s.processes() {
		syscall.Kill(p, syscall.SIGCONT)
	}
}

// bastion returns user@127.0.0.1:port.
func (s *SSHD) Bastion() string { return s.User + "@" + s.Addr }

// knownHosts writes a known_hosts file listing keys for this server's
// [127.0.0.1]:port, with hashed host names when hashed is set, and returns
// its path.
func (s *SSHD) KnownHosts(hashed bool, keys ...ssh.PublicKey) string {
	s.t.Helper()
	host := knownhosts.Normalize(s.Addr)
	if hashed {
		host = knownhosts.HashHostname(host)
	}
	var b strings.Builder
	b.WriteString("# another host first, as in a real file\n")
	b.WriteString(knownhosts.Line([]string{"other.example.com"}, OtherSSHKey(s.t)) + "\n")
	for _, k := range keys {
		b.WriteString(host + " " + string(ssh.MarshalAuthorizedKey(k)))
	}
	path := filepath.Join(s.t.TempDir(), "known_hosts")
	WriteFile(s.t, path, b.String())
	return path
}

// keygen makes a key pair with ssh-keygen (as a user would) at path and
// path.pub and returns the public key.
func SSHKeygen(t testing.TB, path, typ, passphrase string) ssh.PublicKey {
	t.Helper()
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", "runway-test", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// WriteFile writes text to path, failing the test on error.
func WriteFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// descendants returns the processes below pid, found through /proc.

// otherKey returns a new ed25519 public key, one no server has.
func OtherSSHKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
