package main

import (
	"context"
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

func (c *HubCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7070", "address to listen on (port 0: any free port)")
	data := fs.String("data", "./hubdata", "directory of the hub's replicas (created if missing)")
	tokens := fs.String("tokens", "", "token file: devices must present one of its tokens (see `deltasync token`)")
	cert := fs.String("tls-cert", "", "TLS certificate file (with --tls-key: serve HTTPS)")
	key := fs.String("tls-key", "", "TLS key file")
	skew := fs.Duration("max-clock-skew", replicator.DefaultMaxClockSkew, "refuse pushes with changes stamped further than this ahead of the hub's clock")
	maxBody := fs.Int64("max-body", hub.DefaultMaxBody, "largest request body accepted, in bytes")
	if _, err := c.m.parse(fs, args, 0, ""); err != nil {
		return err
	}
	if (*cert == "") != (*key == "") {
		return usageError{"hub: give both --tls-cert and --tls-key, or neither"}
	}
	logger := slog.New(slog.NewTextHandler(c.m.Stderr, nil))
	store := hub.NewStore(*data)
	store.Logger, store.MaxClockSkew = logger, *skew
	defer store.Close()
	srv := hub.NewServer(store)
	srv.Logger, srv.MaxBody = logger, *maxBody
	if *tokens != "" {
		f, err := os.Open(*tokens)
		if err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		srv.Tokens, err = hub.ParseTokens(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hub: %s: %w", *tokens, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	// The first line on stdout is the address, for scripts and tests that listen on port 0.
	fmt.Fprintf(c.m.Stdout, "deltasync hub listening on %s://%s\n", scheme, ln.Addr())
	logger.Info("hub started", "addr", ln.Addr().String(), "data", *data, "auth", *tokens != "", "tls", *cert != "")
	return serve(ctx, &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}, ln, *cert, *key)
}

// serve runs srv until ctx ends, then lets requests in flight finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, cert, key string) error {
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(ln, cert, key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
