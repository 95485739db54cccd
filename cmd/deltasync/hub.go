package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// HubCommand serves databases to devices.
type HubCommand struct{ m *Main }

// hubFlags are the flags of `deltasync hub`.
type hubFlags struct {
	listen, data, tokens, cert, key, metricsListen string
	insecureNoAuth                                 bool
	skew, maxWait                                  time.Duration
	maxBody, bodyBudget, pullBudget, minRate       int64
	maxConns, maxWaits, maxPushes, maxOpen         int
}

func (f *hubFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:7070", "address to listen on (port 0: any free port)")
	fs.StringVar(&f.data, "data", "./hubdata", "directory of the hub's replicas (created if missing)")
	fs.StringVar(&f.tokens, "tokens", "", "token file: devices must present one of its tokens (see `deltasync token`); mode 600")
	fs.BoolVar(&f.insecureNoAuth, "insecure-no-auth", false, "allow listening on a non-loopback address without --tokens: anyone who reaches the hub can read and write every database")
	fs.StringVar(&f.cert, "tls-cert", "", "TLS certificate file (with --tls-key: serve HTTPS)")
	fs.StringVar(&f.key, "tls-key", "", "TLS key file")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "also serve /metrics, with no token, on this address (keep it private)")
	fs.DurationVar(&f.skew, "max-clock-skew", replicator.DefaultMaxClockSkew, "refuse pushes with changes stamped further than this ahead of the hub's clock")
	fs.Int64Var(&f.maxBody, "max-body", hub.DefaultMaxBody, "largest request body accepted, in bytes")
	fs.Int64Var(&f.bodyBudget, "body-budget", hub.DefaultBodyBudget, "bytes of push bodies held in memory at once (a larger push passes alone)")
	fs.Int64Var(&f.pullBudget, "pull-budget", hub.DefaultPullBudget, "bytes of pull frames built and held in memory at once (a pull waits for room)")
	fs.Int64Var(&f.minRate, "min-rate", hub.DefaultMinRate, "slowest transfer waited for, in bytes per second after a 30 s grace: a push sent or a pull read more slowly is cut")
	fs.DurationVar(&f.maxWait, "max-wait", hub.DefaultMaxWait, "longest a pull waits for a change")
	fs.IntVar(&f.maxConns, "max-conns", hub.DefaultMaxConns, "connections held open at once (keep well under the file descriptor limit)")
	fs.IntVar(&f.maxWaits, "max-waits-per-token", hub.DefaultMaxWaitsPerToken, "long-polls one token (or, without tokens, one address) holds at once")
	fs.IntVar(&f.maxPushes, "max-pushes-per-token", hub.DefaultMaxPushesPerToken, "pushes one token (or, without tokens, one address) has in flight at once")
	fs.IntVar(&f.maxOpen, "max-open", hub.DefaultMaxOpen, "replicas open at once")
}

// check refuses flag values that cannot work, before anything is opened.
func (f *hubFlags) check() error {
	if (f.cert == "") != (f.key == "") {
		return usageError{"hub: give both --tls-cert and --tls-key, or neither"}
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"max-body", f.maxBody}, {"body-budget", f.bodyBudget}, {"pull-budget", f.pullBudget}, {"min-rate", f.minRate}, {"max-conns", int64(f.maxConns)},
		{"max-waits-per-token", int64(f.maxWaits)}, {"max-pushes-per-token", int64(f.maxPushes)}, {"max-open", int64(f.maxOpen)}, {"max-wait", int64(f.maxWait)}} {
		if v.n <= 0 {
			return usageError{fmt.Sprintf("hub: --%s must be positive", v.name)}
		}
	}
	return nil
}

func (c *HubCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	var f hubFlags
	f.register(fs)
	if _, err := c.m.parse(fs, args, 0, ""); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(c.m.Stderr, nil))
	srv, store, err := f.server(logger)
	if err != nil {
		return err
	}
	defer store.Close()
	tlsConfig, err := f.tlsConfig()
	if err != nil {
		return err
	}
	ln, metricsLn, err := f.openListeners(srv.Tokens != nil)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	// The first line on stdout is the address, for scripts and tests that
	// listen on port 0; it is printed only once every check has passed and
	// the listeners are open.
	fmt.Fprintf(c.m.Stdout, "deltasync hub listening on %s://%s\n", scheme, ln.Addr())
	logger.Info("hub started", "addr", ln.Addr().String(), "data", f.data, "auth", srv.Tokens != nil, "tls", tlsConfig != nil,
		"max_conns", f.maxConns, "max_body", f.maxBody, "body_budget", f.bodyBudget, "pull_budget", f.pullBudget, "min_rate", f.minRate)
	httpSrv := srv.HTTPServer()
	mainLn := srv.Listener(ln)
	if tlsConfig != nil {
		httpSrv.TLSConfig = tlsConfig
		mainLn = tls.NewListener(mainLn, tlsConfig)
	}
	servers := []served{{httpSrv, mainLn}}
	if metricsLn != nil {
		logger.Info("metrics listening", "addr", metricsLn.Addr().String())
		servers = append(servers, served{&http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: time.Minute, WriteTimeout: time.Minute}, metricsLn})
	}
	return serve(ctx, servers...)
}

// server makes the hub's store and server from the flags, reading the
// token file.
func (f *hubFlags) server(logger *slog.Logger) (*hub.Server, *hub.Store, error) {
	if err := os.MkdirAll(f.data, 0o750); err != nil {
		return nil, nil, fmt.Errorf("hub: data directory: %w", err)
	}
	store := hub.NewStore(f.data)
	store.Logger, store.MaxClockSkew, store.MaxOpen = logger, f.skew, f.maxOpen
	srv := hub.NewServer(store)
	srv.Logger, srv.MaxBody, srv.BodyBudget, srv.MaxWait = logger, f.maxBody, f.bodyBudget, f.maxWait
	srv.PullBudget, srv.MinRate = f.pullBudget, f.minRate
	srv.MaxConns, srv.MaxWaitsPerToken, srv.MaxPushesPerToken = f.maxConns, f.maxWaits, f.maxPushes
	if f.tokens != "" {
		tokens, err := hub.LoadTokens(f.tokens)
		if err != nil {
			return nil, nil, fmt.Errorf("hub: %w", err)
		}
		srv.Tokens = tokens
	}
	return srv, store, nil
}

// tlsConfig loads the key pair before the hub listens, so that a bad key
// stops it before it claims to serve.
func (f *hubFlags) tlsConfig() (*tls.Config, error) {
	if f.cert == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("hub: load --tls-cert %s and --tls-key %s: %w", f.cert, f.key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// openListeners opens the hub's listener and, with --metrics-listen, the metrics
// one. An open hub (no tokens) must listen on loopback only, unless
// --insecure-no-auth says it is meant to be open.
func (f *hubFlags) openListeners(auth bool) (ln, metrics net.Listener, err error) {
	ln, err = net.Listen("tcp", f.listen)
	if err != nil {
		return nil, nil, fmt.Errorf("hub: %w", err)
	}
	if !auth && !f.insecureNoAuth && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, nil, usageError{fmt.Sprintf("hub: --listen %s is reachable from other machines, and without --tokens anyone "+
			"who reaches it can read and write every database: give --tokens (make tokens with `deltasync token`), "+
			"listen on 127.0.0.1, or pass --insecure-no-auth to run an open hub on purpose", f.listen)}
	}
	if f.metricsListen != "" {
		if metrics, err = net.Listen("tcp", f.metricsListen); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("hub: --metrics-listen: %w", err)
		}
	}
	return ln, metrics, nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// served is one http.Server and the listener it serves.
type served struct {
	srv *http.Server
	ln  net.Listener
}

// serve runs every server until ctx ends or one fails, then lets requests
// in flight finish.
func serve(ctx context.Context, servers ...served) error {
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.ln) }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		if serr := s.srv.Shutdown(shutdown); serr != nil && !errors.Is(serr, context.DeadlineExceeded) && err == nil {
			err = serr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
