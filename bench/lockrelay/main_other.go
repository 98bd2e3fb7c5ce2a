//go:build !linux || 386

// Command lockrelay needs Linux's socket calls made raw (see main.go); on
// 386 they go through socketcall, which it does not make.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "lockrelay: Linux only (not 386)")
	os.Exit(1)
}
