// Command edge-origin is the lean HTTP/1.1 origin of the edge proxy
// benchmark (bench/edge.sh): fixed 1 KiB bodies, 64 KiB under /64k, over
// kept-alive connections, with as little work per request as possible
// (package leanorigin).
//
//	edge-origin --listen 127.0.0.1:9000
package main

import (
	"fmt"
	"io"
	"net"
	"os"

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/internal/leanorigin"
)

const usage = `usage: edge-origin [--listen ADDR]

A lean HTTP/1.1 origin for proxy benchmarks: 200 with a 1 KiB body, or
64 KiB for paths under /64k, on kept-alive connections.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("edge-origin", usage, "edge-origin --listen 127.0.0.1:9000", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.Usagef("unexpected argument %q", fs.Arg(0))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "edge-origin:", err)
		return 1
	}
	fmt.Fprintln(stdout, "edge-origin listening on", ln.Addr())
	if err := leanorigin.Serve(ln); err != nil {
		fmt.Fprintln(stderr, "edge-origin:", err)
		return 1
	}
	return 0
}
