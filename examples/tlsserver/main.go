// Command tlsserver is the example workload behind a Passthrough Network
// Load Balancer. The NLB's TCP listener forwards the TLS bytes untouched, so
// this process terminates TLS itself: it holds the certificate and key, can
// require client certificates, and sees the client's real TLS session.
//
// Configuration comes only from environment variables, because on ECS the
// certificate and key are injected as secrets into the environment. See
// README.md for the variables.
//
// The same binary has two other modes: -healthcheck, the ECS container
// health check (an NLB TCP health check passes even when TLS is broken),
// and -gen-cert, which writes demo certificates.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run returns the exit code instead of exiting, so that tests can drive
// every mode in-process.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlsserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		health     = fs.Bool("healthcheck", false, "probe the server on 127.0.0.1:$PORT over TLS and exit 0 if it serves the configured certificate and that certificate is valid, 1 otherwise")
		gen        = fs.Bool("gen-cert", false, "write a demo CA, server certificate and key (and a client certificate) as PEM files, then exit")
		hosts      = fs.String("hosts", "localhost,127.0.0.1", "with -gen-cert: comma-separated DNS names and IP addresses for the server certificate")
		days       = fs.Int("days", 90, "with -gen-cert: validity in days")
		outDir     = fs.String("out", ".", "with -gen-cert: output directory")
		secretName = fs.String("secret-name", "passthrough/demo", "with -gen-cert: name of the Secrets Manager secret in the printed commands")
		client     = fs.Bool("client", true, "with -gen-cert: also write client.pem and client-key.pem for trying mutual TLS")
	)
	probe := addProbeFlags(fs) // -probe and its options: probe.go
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return 2
	}

	switch {
	case *health && *gen:
		fmt.Fprintln(stderr, "-healthcheck and -gen-cert are mutually exclusive")
		return 2
	case probe.set() && (*health || *gen):
		fmt.Fprintln(stderr, "-probe cannot be combined with -healthcheck or -gen-cert")
		return 2
	case probe.set():
		return runProbe(probe, getenv, stdout, stderr)
	case *gen:
		opts := genCertOptions{
			hosts:      splitList(*hosts),
			days:       *days,
			outDir:     *outDir,
			secretName: *secretName,
			client:     *client,
		}
		if err := genCert(opts, time.Now(), stdout); err != nil {
			fmt.Fprintf(stderr, "gen-cert: %v\n", err)
			return 1
		}
		return 0
	case *health:
		return runHealthcheck(getenv, stdout, stderr)
	}

	out := &syncWriter{w: stdout}
	logger := slog.New(slog.NewJSONHandler(out, nil))
	cfg, err := loadConfig(getenv)
	if err != nil {
		logger.Error("configuration error", "error", err.Error())
		return 1
	}
	// After the first signal, restore the default action, so a second
	// Ctrl-C ends a local run at once.
	sigc, stop := make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, os.Interrupt)
	go func() {
		sig := <-sigc
		signal.Stop(sigc)
		stop <- sig
	}()
	if err := serve(cfg, logger, out, stop); err != nil {
		logger.Error("server stopped", "error", err.Error())
		return 1
	}
	return 0
}

func runHealthcheck(getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	port := cfg.port
	if port == "0" {
		fmt.Fprintln(stderr, "unhealthy: PORT=0 names no port to probe")
		return 1
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	if err := healthcheck(context.Background(), addr, healthOptionsFrom(cfg), time.Now); err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "healthy: %s serves the configured certificate, valid until %s\n", addr, cfg.cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
