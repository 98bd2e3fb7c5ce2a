// Command minrp is the smallest useful Go reverse proxy: one
// net/http/httputil.ReverseProxy with a transport tuned like Headroom's
// (many idle connections per host, no transparent decompression). It is
// scripts/bench.sh's reference for what net/http alone costs, so that
// Headroom's own overhead can be told apart from the framework's.
//
//	minrp -listen 127.0.0.1:8080 -upstream http://127.0.0.1:9000
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "", "upstream base URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "minrp: -upstream must be an absolute URL")
		os.Exit(2)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}
