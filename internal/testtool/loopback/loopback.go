// Package loopback is the benchmarks' HTTP/1.1 client and upstream over
// loopback: as cheap as they can be, so that what a benchmark measures is
// the proxy (or handler) between them. Not for correctness tests: they
// read only Content-Length framing.
package loopback

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Answer is an OpenAI chat completion with its rate-limit headers, the
// answer Upstream gives by default.
const Answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 23 Nov 2026 20:00:00 GMT\r\n" +
	"x-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\nx-ratelimit-reset-requests: 6ms\r\n" +
	"x-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-tokens: 1999982\r\nx-ratelimit-reset-tokens: 1ms\r\n" +
	"openai-processing-ms: 1\r\nContent-Length: 258\r\n\r\n" +
	`{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`

// Upstream listens on loopback until the benchmark ends and answers every
// request on every connection with answer (Answer when empty); it returns
// its address.
func Upstream(tb testing.TB, answer string) string {
	tb.Helper()
	if answer == "" {
		answer = Answer
	}
	return Serve(tb, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		for ReadMessage(br) >= 0 {
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
	})
}

// Serve listens on loopback and runs handle, in its own goroutine, on every
// connection (closed after it); it returns the address and closes the
// listener when the test ends.
func Serve(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ReadMessage reads one HTTP/1.1 message with a Content-Length body (or
// none) and returns its size, -1 at EOF or on anything else.
func ReadMessage(br *bufio.Reader) int {
	n, cl := 0, 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return -1
		}
		n += len(line)
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			cl, _ = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
		}
	}
	if _, err := br.Discard(cl); err != nil {
		return -1
	}
	return n + cl
}

// Client sends one request at a time on one keep-alive connection.
type Client struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

// Dial connects to addr; each Do sends req (a whole raw request).
func Dial(tb testing.TB, addr, req string) *Client {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &Client{c: c, br: bufio.NewReaderSize(c, 16<<10), req: []byte(req)}
}

// Do sends the request and reads the answer.
func (l *Client) Do(tb testing.TB) {
	if _, err := l.c.Write(l.req); err != nil {
		tb.Fatal(err)
	}
	if ReadMessage(l.br) < 0 {
		tb.Fatal("no answer")
	}
}

// Post is a raw JSON POST of body to path with a bearer key.
func Post(path, key, body string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + key +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// Run runs op b.N times, reporting the process's CPU time per op
// (cpu-ns/op: client, proxy and upstream alike).
func Run(b *testing.B, op func()) {
	b.ReportAllocs()
	cpu0 := CPUTime()
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// CPUTime is the process's CPU time so far (user and system).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
