package tunnel_test

import (
	"net"
	"strings"
	"testing"

	"github.com/runwaydb/runway/tunnel"
)

func TestParseBastion(t *testing.T) {
	for _, tc := range []struct{ in, user, addr, err string }{
		{in: "deploy@bastion.example.com", user: "deploy", addr: "bastion.example.com:22"},
		{in: "deploy@bastion.example.com:2222", user: "deploy", addr: "bastion.example.com:2222"},
		{in: "ssh://deploy@10.0.0.5:2222", user: "deploy", addr: "10.0.0.5:2222"},
		{in: "ec2-user@[2001:db8::1]:2222", user: "ec2-user", addr: "[2001:db8::1]:2222"},
		{in: "ec2-user@[2001:db8::1]", user: "ec2-user", addr: "[2001:db8::1]:22"},
		{in: "ec2-user@2001:db8::1", user: "ec2-user", addr: "[2001:db8::1]:22"},
		{in: "first.last@corp.com@bastion", user: "first.last@corp.com", addr: "bastion:22"},
		{in: "bastion.example.com", err: `ssh bastion "bastion.example.com": want user@host[:port]`},
		{in: "@bastion", err: `ssh bastion "@bastion": want user@host[:port]`},
		{in: "deploy@", err: `ssh bastion "deploy@": invalid host ""`},
		{in: "deploy@bastion:", err: `ssh bastion "deploy@bastion:": invalid port ""`},
		{in: "deploy@bastion:0", err: `ssh bastion "deploy@bastion:0": invalid port "0"`},
		{in: "deploy@bastion:65536", err: `ssh bastion "deploy@bastion:65536": invalid port "65536"`},
		{in: "deploy@bastion:022", err: `ssh bastion "deploy@bastion:022": invalid port "022"`},
		{in: "deploy@bastion:ssh", err: `ssh bastion "deploy@bastion:ssh": invalid port "ssh"`},
		{in: "deploy@[::1", err: `ssh bastion "deploy@[::1": missing ] after the host`},
		{in: "deploy@[::1]2222", err: `ssh bastion "deploy@[::1]2222": want user@[host]:port`},
		{in: "de ploy@bastion", err: `ssh bastion "de ploy@bastion": invalid user "de ploy"`},
		{in: "deploy@bas/tion", err: `ssh bastion "deploy@bas/tion": invalid host "bas/tion"`},
	} {
		user, addr, err := tunnel.ParseBastion(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseBastion(%q): got %q %q %v, want error %s", tc.in, user, addr, err, tc.err)
			}
			continue
		}
		if err != nil || user != tc.user || addr != tc.addr {
			t.Errorf("ParseBastion(%q) = %q, %q, %v; want %q, %q", tc.in, user, addr, err, tc.user, tc.addr)
		}
	}
}

func FuzzParseBastion(f *testing.F) {
	for _, s := range []string{"deploy@bastion", "deploy@bastion:2222", "u@[::1]:22", "u@::1", "ssh://a@b:1", "a@b@c", "@", "u@[", "u@]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		user, addr, err := tunnel.ParseBastion(s)
		if err != nil {
			return
		}
		if user == "" || strings.ContainsAny(user, " \t\r\n/:") {
			t.Fatalf("ParseBastion(%q): user %q", s, user)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			t.Fatalf("ParseBastion(%q): addr %q: %v", s, addr, err)
		}
		// The result reads back the same.
		u2, a2, err := tunnel.ParseBastion(user + "@" + addr)
		if err != nil || u2 != user || a2 != addr {
			t.Fatalf("ParseBastion(%q) = %q %q; reparsed: %q %q %v", s, user, addr, u2, a2, err)
		}
	})
}
