package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"golang.org/x/crypto/ssh"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runwaydb/runway/internal/testdb"
)

// The database connection goes through a real sshd used as a bastion.
func TestSSHBastion(t *testing.T) {
	sshd := testdb.StartSSHD(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_a.up.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644)
	userPEM, err := os.ReadFile(sshd.UserKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cli := func(env map[string]string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] }, false, false)
		code := a.run(context.Background(), append([]string{"--dir", dir}, args...))
		all := out.String() + errb.String()
		for _, line := range strings.Split(string(userPEM), "\n") {
			if len(line) > 20 && strings.Contains(all, line) {
				t.Fatalf("output contains a line of the private key:\n%s", all)
			}
		}
		return code, all
	}
	known := sshd.KnownHosts(false, sshd.HostKeys...)
	for _, db := range []string{testdb.Postgres(t), testdb.MySQL(t)} {
		code, out := cli(nil, "-d", db, "--ssh-bastion", sshd.Bastion(), "--ssh-key", sshd.UserKeyFile, "--ssh-known-hosts", known, "up")
		if code != 0 || !strings.Contains(out, "applied 1 migration") {
			t.Fatalf("up through the bastion: exit %d\n%s", code, out)
		}
		// The key from the environment, as ECS and CI secrets give it.
		code, out = cli(map[string]string{"RUNWAY_SSH_KEY": string(userPEM), "RUNWAY_SSH_BASTION": sshd.Bastion(), "RUNWAY_SSH_KNOWN_HOSTS": known}, "-d", db, "status", "--check")
		if code != 0 {
			t.Fatalf("status through the bastion with the key in RUNWAY_SSH_KEY: exit %d\n%s", code, out)
		}
	}
	db := testdb.Postgres(t)
	wrong := sshd.KnownHosts(false, testdb.OtherSSHKey(t))
	if code, out := cli(nil, "-d", db, "--ssh-bastion", sshd.Bastion(), "--ssh-key", sshd.UserKeyFile, "--ssh-known-hosts", wrong, "up"); code != exitConnect || !strings.Contains(out, "host key mismatch") {
		t.Fatalf("wrong host key: exit %d\n%s", code, out)
	}
	// wait and exec give up at once on a host key or a key the bastion
	// refuses (a man in the middle, a revoked key), as on a refused
	// password: not after --timeout as "pending".
	other := filepath.Join(t.TempDir(), "other_key")
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"host key": {"--ssh-known-hosts", wrong, "--ssh-key", sshd.UserKeyFile},
		"user key": {"--ssh-known-hosts", known, "--ssh-key", other},
	} {
		start := time.Now()
		code, out := cli(nil, append(append([]string{"-d", db, "--ssh-bastion", sshd.Bastion()}, args...), "wait", "--timeout", "20s")...)
		if code != exitConnect || time.Since(start) > 10*time.Second {
			t.Fatalf("wait with a refused %s: exit %d after %v\n%s", name, code, time.Since(start), out)
		}
	}
	if code, out := cli(nil, "-d", db, "--ssh-bastion", sshd.Bastion(), "--ssh-key", sshd.UserKeyFile, "up"); code != exitUsage || !strings.Contains(out, "--ssh-known-hosts") {
		t.Fatalf("no known_hosts: exit %d\n%s", code, out)
	}
	if code, out := cli(nil, "-d", "sqlite:x.db", "--ssh-bastion", sshd.Bastion(), "up"); code != exitUsage || !strings.Contains(out, "works with PostgreSQL and MySQL") {
		t.Fatalf("sqlite through a bastion: exit %d\n%s", code, out)
	}
}
