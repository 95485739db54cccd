package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startSidecar runs `deltasync sync` without --once, until the test ends.
func startSidecar(t *testing.T, path, url string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"sync", path, "--hub", url, "--name", "shop"}, extra...)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("sidecar %s log:\n%s", filepath.Base(path), log.String())
		}
	})
	return cmd
}

func query(t *testing.T, path, sql string) string {
	t.Helper()
	return strings.TrimSpace(dbtest.Shell(t, path, sql))
}

// TestSidecar runs two devices' sidecars: a write on one arrives on the
// other without any sync command, also after the hub was down for a while,
// and SIGTERM stops a sidecar cleanly.
func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "hub")
	h := startHub(t, data)
	a, b := emptyDevice(t, dir, "a"), emptyDevice(t, dir, "b")
	sa := startSidecar(t, a, h.url, "--wait", "2s")
	startSidecar(t, b, h.url, "--wait", "2s")

	dbtest.Shell(t, a, `INSERT INTO items VALUES ('x', 'from a', 1, 1.0, NULL, NULL);`)
	eventually(t, 20*time.Second, "a's write reaches b", func() bool {
		return query(t, b, `SELECT title FROM items WHERE id = 'x';`) == "from a"
	})

	// The hub goes down; both devices keep writing; the hub comes back on its port.
	port := h.url[strings.LastIndex(h.url, ":")+1:]
	h.kill()
	dbtest.Shell(t, a, `UPDATE items SET qty = 2 WHERE id = 'x';`)
	dbtest.Shell(t, b, `UPDATE items SET note = 'offline edit' WHERE id = 'x';`)
	restarted := startHubAt(t, data, "127.0.0.1:"+port)
	eventually(t, 60*time.Second, "both offline edits reach both devices", func() bool {
		want := "2|offline edit"
		return query(t, a, `SELECT qty, note FROM items WHERE id = 'x';`) == want &&
			query(t, b, `SELECT qty, note FROM items WHERE id = 'x';`) == want
	})
	_ = restarted

	sa.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- sa.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sidecar stopped by SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("sidecar did not stop within 10s of SIGTERM")
	}
}

// startHubAt starts a hub on a given address, retrying while the port is
// still held by the process that was killed.
func startHubAt(t *testing.T, data, addr string) *hubProcess {
	t.Helper()
	var h *hubProcess
	eventually(t, 10*time.Second, "port "+addr+" free again", func() bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
	cmd := exec.Command(binary, "hub", "--listen", addr, "--data", data)
	h = &hubProcess{cmd: cmd, data: data, log: &strings.Builder{}, url: "http://" + addr}
	cmd.Stderr = h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.kill)
	return h
}

// TestAuth checks that a hub with a token file refuses a missing token, an
// unknown token and a token for another database, and that a refused push
// changes nothing.
func TestAuth(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.txt")
	shopToken, shopLine := newToken(t, "shop")
	otherToken, otherLine := newToken(t, "other")
	os.WriteFile(tokens, []byte("# tokens\n"+shopLine+"\n"+otherLine+"\n"), 0o600)
	if b, _ := os.ReadFile(tokens); bytes.Contains(b, []byte(shopToken)) {
		t.Fatal("the token file holds the token itself, not its hash")
	}
	h := startHub(t, filepath.Join(dir, "hub"), "--tokens", tokens)
	a := bigDevice(t, dir, "a", 10)
	for _, tc := range []struct{ name, token, want string }{
		{"no token", "", "401"},
		{"unknown token", "0123456789abcdef", "401"},
		{"token for another database", otherToken, "403"},
	} {
		r := run(t, "sync", a, "--hub", h.url, "--name", "shop", "--once", "--token", tc.token)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit 1 naming %s", tc.name, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hub", "shop.db")); err == nil {
		t.Error("a refused device created the database on the hub")
	}
	mustRun(t, "sync", a, "--hub", h.url, "--name", "shop", "--once", "--token", shopToken)
	if got := query(t, filepath.Join(dir, "hub", "shop.db"), `SELECT count(*) FROM items;`); got != "10" {
		t.Errorf("hub has %s rows after the allowed sync, want 10", got)
	}
}

func newToken(t *testing.T, db string) (token, line string) {
	t.Helper()
	out := mustRun(t, "token", "--db", db).stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token = lines[0][strings.LastIndex(lines[0], " ")+1:]
	line = lines[len(lines)-1]
	return token, line
}

// TestBodyLimit checks that the hub refuses a push larger than --max-body
// (413), and that the device then pushes smaller batches, which fit.
func TestBodyLimit(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"), "--max-body", "2000")
	a := bigDevice(t, dir, "a", 2000)
	r := run(t, "sync", a, "--hub", h.url, "--name", "shop", "--once")
	if r.code != 0 || !strings.Contains(r.stderr, "413") {
		t.Errorf("oversized push: exit %d, %q; want a 413 logged, then exit 0", r.code, r.stderr)
	}
	if got := dbtest.Shell(t, filepath.Join(h.data, "shop.db"), `SELECT count(*) FROM items;`); got != "2000\n" {
		t.Errorf("the hub holds %q rows, want 2000", got)
	}
}

// TestTLS serves the hub over HTTPS with a self-signed certificate, which
// the device trusts through SSL_CERT_FILE.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	h := startHub(t, filepath.Join(dir, "hub"), "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(h.url, "https://") {
		t.Fatalf("hub URL %s, want https", h.url)
	}
	a := bigDevice(t, dir, "a", 5)
	cmd := exec.Command(binary, "sync", a, "--hub", h.url, "--name", "shop", "--once")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+cert)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sync over TLS: %v\n%s", err, out)
	}
	if _, err := http.Get(h.url + "/healthz"); err == nil {
		t.Error("an untrusted client reached the hub without a certificate error")
	}
}

func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}

// TestClockSkew makes a device whose clock runs a day ahead: the hub refuses
// its push with an error naming the device and the skew, applies nothing of
// it, and the device's status shows the refusal until a sync succeeds.
func TestClockSkew(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	a, b := emptyDevice(t, dir, "a"), emptyDevice(t, dir, "b")
	syncOnce(t, h, a)
	// SQLite stamps writes with the OS clock: move this device's stamps a day ahead.
	dbtest.Shell(t, a, `INSERT INTO items VALUES ('future', 'from tomorrow', 1, 1.0, NULL, NULL);
		UPDATE _sync_changelog SET at = at + 1.0;`)
	r := run(t, "sync", a, "--hub", h.url, "--name", "shop", "--once")
	site := strings.TrimSpace(query(t, a, `SELECT hex(value) FROM _sync_state WHERE key = 'site_id';`))
	if r.code != 1 || !strings.Contains(r.stderr, "ahead") || !strings.Contains(strings.ToUpper(r.stderr), site) {
		t.Errorf("push from a clock a day ahead: exit %d, %q; want exit 1 naming site %s and the skew", r.code, r.stderr, site)
	}
	syncOnce(t, h, b)
	if got := query(t, b, `SELECT count(*) FROM items;`); got != "0" {
		t.Errorf("another device got %s rows of the refused batch, want 0", got)
	}
	if out := mustRun(t, "status", a).stdout; !strings.Contains(out, "last sync failed at") || !strings.Contains(out, "ahead") {
		t.Errorf("status of the refused device does not show the refusal:\n%s", out)
	}
	// The clock is fixed; the stamps already given stay (a clock never goes back), so restamp them as a user would have to.
	dbtest.Shell(t, a, `UPDATE _sync_clock SET hlc = hlc - (86400000 << 16); UPDATE _sync_state SET value = 0 WHERE key = 'hlc';`)
	syncOnce(t, h, a)
	if out := mustRun(t, "status", a).stdout; strings.Contains(out, "last sync failed") {
		t.Errorf("status still shows a refusal after a sync succeeded:\n%s", out)
	}
}
