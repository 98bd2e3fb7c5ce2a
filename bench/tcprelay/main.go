// Command tcprelay is the simplest Go proxy there is: it relays bytes
// between each client connection and a connection of its own to the
// upstream, with io.Copy both ways, and reads nothing of HTTP. It is
// scripts/bench.sh's physical-limit reference: what relaying a request's
// bytes through one more process, on Go's net.Conn and runtime, costs on
// the machine. No HTTP proxy can add less than a byte relay.
//
//	tcprelay -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "", "upstream host:port")
	flag.Parse()
	if *upstream == "" {
		fmt.Fprintln(os.Stderr, "tcprelay: -upstream host:port is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcprelay:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcprelay:", err)
			os.Exit(1)
		}
		go relay(c, *upstream)
	}
}

func relay(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	go func() {
		io.Copy(u, c)
		u.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, u)
}
