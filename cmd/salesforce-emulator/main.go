// Command salesforce-emulator serves the Salesforce OAuth 2.0 emulator of
// internal/salesforce/emulator on local ports, for e2e tests and `make demo`.
//
//	salesforce-emulator --listen 127.0.0.1:18080 [--login-listen 127.0.0.1:18081] [--config hack/emulator-demo.yaml]
//
// --listen serves the org's My Domain host (every grant); --login-listen, when set, serves
// the generic login host (login.salesforce.com), where client credentials are refused.
// Orgs without an instanceURL answer with the --listen address. The admin API under
// /_emulator/ (see the package documentation) is served on both listeners.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "salesforce-emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:18080", "address of the My Domain host listener")
	loginListen := flag.String("login-listen", "", "address of the generic login host listener (optional)")
	configPath := flag.String("config", "", "YAML or JSON file with orgs, apps and users")
	instanceURL := flag.String("instance-url", "", "instance_url for orgs that set none (default: the --listen URL)")
	certFile := flag.String("tls-cert-file", "", "serve HTTPS with this certificate (with --tls-key-file)")
	keyFile := flag.String("tls-key-file", "", "private key for --tls-cert-file")
	flag.Parse()
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together")
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}

	var state emulator.State
	if *configPath != "" {
		raw, err := os.ReadFile(*configPath)
		if err != nil {
			return err
		}
		if err := yaml.UnmarshalStrict(raw, &state); err != nil {
			return fmt.Errorf("%s: %w", *configPath, err)
		}
	}

	myDomainLn, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	myDomainURL := scheme + "://" + myDomainLn.Addr().String()
	if *instanceURL == "" {
		*instanceURL = myDomainURL
	}
	emu := emulator.New(emulator.WithDefaultInstanceURL(*instanceURL))
	if err := emu.Apply(state); err != nil {
		return fmt.Errorf("%s: %w", *configPath, err)
	}

	type server struct {
		srv *http.Server
		ln  net.Listener
	}
	servers := []server{{&http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 10 * time.Second}, myDomainLn}}
	fmt.Printf("salesforce-emulator: My Domain host on %s\n", myDomainURL)
	if *loginListen != "" {
		ln, err := net.Listen("tcp", *loginListen)
		if err != nil {
			return err
		}
		servers = append(servers, server{&http.Server{Handler: emu.LoginHostHandler(), ReadHeaderTimeout: 10 * time.Second}, ln})
		fmt.Printf("salesforce-emulator: login host on %s://%s\n", scheme, ln.Addr())
	}
	s := emu.State()
	fmt.Printf("salesforce-emulator: %d org(s), %d app(s), %d user(s); admin API at %s/_emulator/\n", len(s.Orgs), len(s.Apps), len(s.Users), myDomainURL)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() {
			var err error
			if *certFile != "" {
				err = sv.srv.ServeTLS(sv.ln, *certFile, *keyFile)
			} else {
				err = sv.srv.Serve(sv.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Println("salesforce-emulator: shutting down")
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, sv := range servers {
		_ = sv.srv.Shutdown(shutdownCtx)
	}
	return err
}
