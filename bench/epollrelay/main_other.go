//go:build !linux

// Command epollrelay needs Linux's epoll (see main.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "epollrelay: Linux only")
	os.Exit(1)
}
