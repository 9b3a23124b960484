// Command edge-origin is the lean HTTP/1.1 origin of the edge proxy
// benchmark (bench/edge.sh): fixed 1 KiB bodies, 64 KiB under /64k, over
// kept-alive connections, with as little work per request as possible
// (package leanorigin). With --bare-proxy it is instead the benchmark's
// reference proxy: plain net/http and httputil.ReverseProxy terminating
// TLS in front of --upstream, with none of steer-edge's features (package
// bareproxy).
//
//	edge-origin --listen 127.0.0.1:9000
//	edge-origin --bare-proxy --listen 127.0.0.1:9443 --upstream http://127.0.0.1:9000 --cert edge.crt --key edge.key
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/steer-gslb/steer/internal/bareproxy"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/internal/leanorigin"
)

const usage = `usage: edge-origin [--listen ADDR]
       edge-origin --bare-proxy --upstream URL --cert FILE --key FILE [--listen ADDR]

A lean HTTP/1.1 origin for proxy benchmarks: 200 with a 1 KiB body, or
64 KiB for paths under /64k, on kept-alive connections.

With --bare-proxy, a plain Go TLS reverse proxy to --upstream instead
(net/http + httputil.ReverseProxy, steer-edge's TLS settings and pool
size, no request IDs, metrics or access log): the benchmark's measure of
what Go itself costs. It stops on SIGTERM or SIGINT.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("edge-origin", usage, "edge-origin --listen 127.0.0.1:9000", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	bare := fs.Bool("bare-proxy", false, "be a bare Go TLS reverse proxy to --upstream instead of the origin")
	upstream := fs.String("upstream", "", "bare proxy: the origin, http://HOST:PORT")
	cert := fs.String("cert", "", "bare proxy: PEM certificate file")
	key := fs.String("key", "", "bare proxy: PEM key file")
	maxConns := fs.Int("max-conns", 1024, "bare proxy: upstream connections (and idle ones kept)")
	tickets := fs.Bool("session-tickets", false, "bare proxy: allow TLS session resumption by ticket")
	cpuprofile := fs.String("cpuprofile", "", "bare proxy: write a CPU profile to this file until exit")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if !*bare && (*upstream != "" || *cert != "" || *key != "" || *cpuprofile != "") {
		return fs.Usagef("--upstream, --cert, --key and --cpuprofile need --bare-proxy")
	}
	var proxy *bareproxy.Proxy
	if *bare {
		var err error
		proxy, err = bareproxy.New(bareproxy.Options{Upstream: *upstream, CertFile: *cert, KeyFile: *key, MaxConns: *maxConns, SessionTickets: *tickets})
		if err != nil {
			fmt.Fprintln(stderr, "edge-origin:", err)
			return 2
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "edge-origin:", err)
		return 1
	}
	if proxy == nil {
		fmt.Fprintln(stdout, "edge-origin listening on", ln.Addr())
		if err := leanorigin.Serve(ln); err != nil {
			fmt.Fprintln(stderr, "edge-origin:", err)
			return 1
		}
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "edge-origin: --cpuprofile:", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(stdout, "edge-origin: bare proxy listening on", ln.Addr(), "to", *upstream)
	if err := proxy.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "edge-origin:", err)
		return 1
	}
	return 0
}
