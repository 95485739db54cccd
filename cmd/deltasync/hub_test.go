package main_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// TestHubRefusesBadSetup: each setup that would serve less safely than it
// says stops the hub before it prints its address, with what to do.
func TestHubRefusesBadSetup(t *testing.T) {
	dir := t.TempDir()
	cert, _ := writeCert(t, dir)
	badKey := filepath.Join(dir, "bad.key")
	os.WriteFile(badKey, []byte("-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n"), 0o600)
	writable := filepath.Join(dir, "tokens.txt")
	os.WriteFile(writable, []byte(tokenLine(t)+"\n"), 0o600)
	os.Chmod(writable, 0o666)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# first\n"+strings.Fields(tokenLine(t))[0]+" notes,,\n"), 0o600)
	data := filepath.Join(dir, "data")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad TLS key", []string{"--tls-cert", cert, "--tls-key", badKey}, "--tls-key " + badKey},
		{"open hub on every interface", []string{"--listen", "0.0.0.0:0"}, "--insecure-no-auth"},
		{"token file others can write", []string{"--tokens", writable}, "chmod 600 " + writable},
		{"token line allowing an empty name", []string{"--tokens", empty}, "line 2: database 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"hub", "--listen", "127.0.0.1:0", "--data", data}, tc.args...)...)
			if r.code == 0 || strings.Contains(r.stdout, "listening") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want a failure that names %q and no listening line", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// TestHubOpenOnPurpose: --insecure-no-auth lets a hub without tokens
// listen on every interface.
func TestHubOpenOnPurpose(t *testing.T) {
	h := startHub(t, t.TempDir(), "--listen", "0.0.0.0:0", "--insecure-no-auth")
	if _, port, _ := net.SplitHostPort(strings.TrimPrefix(h.url, "http://")); port == "" {
		t.Fatalf("hub address %q", h.url)
	}
}

// TestHubTLS: with a good key pair the hub serves HTTPS, and its
// connection cap sees through TLS to the connections it counts.
func TestHubTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	h := startHub(t, filepath.Join(dir, "data"), "--tls-cert", cert, "--tls-key", key, "--max-conns", "4")
	if !strings.HasPrefix(h.url, "https://") {
		t.Fatalf("hub address %q, want https", h.url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for range 8 {
		resp, err := c.Get(h.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("healthz over TLS: %d", resp.StatusCode)
		}
		c.CloseIdleConnections()
	}
}

// TestHubIdleConnections: a hub whose process may open 64 files, with
// 200 connections that sent half a header, still lets a device sync
// within 5 s: --max-conns keeps descriptors for the replicas, and a new
// connection closes the oldest one that is not serving a request.
func TestHubIdleConnections(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `ulimit -n 64 && exec "$0" "$@"`, binary,
		"hub", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--max-conns", "24")
	url := startHubCmd(t, cmd)
	var slow []net.Conn
	for range 200 {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHo")
		slow = append(slow, c)
	}
	path := dbtest.NewDB(t, shopDDL)
	mustRun(t, "init", path)
	dbtest.Shell(t, path, `INSERT INTO items (id, title) VALUES ('a', 'one');`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "sync", path, "--hub", url, "--name", "shop", "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("sync with %d slow connections open: %v (deadline: %v)\n%s", len(slow), err, ctx.Err(), out)
	}
}

// startHubCmd starts a hub command and returns the address it prints.
func startHubCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) == 0 {
		cmd.Wait()
		t.Fatalf("hub printed %q (%v); log:\n%s", line, err, log.String())
	}
	go io.Copy(io.Discard, stdout)
	return fields[len(fields)-1]
}

func tokenLine(t *testing.T) string {
	t.Helper()
	out := mustRun(t, "token", "--db", "notes").stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
