package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A WebSocket (OpenAI's Realtime API) is relayed both ways, counted as one
// call with the rate-limit headers of its 101 observed, over plain and TLS
// upstreams.
func TestWebSocketRelay(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("x-ratelimit-limit-requests", "100")
		w.Header().Set("x-ratelimit-remaining-requests", "99")
		w.Header().Set("x-ratelimit-reset-requests", "1s")
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			var up *httptest.Server
			opts := []func(*Options){}
			if useTLS {
				up = httptest.NewTLSServer(echo)
				roots := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
				opts = append(opts, func(o *Options) {
					o.Upstream = &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: roots}}
				})
			} else {
				up = httptest.NewServer(echo)
			}
			defer up.Close()
			e := newEnv(t, "openai", up.URL, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			wsURL := "ws" + strings.TrimPrefix(e.proxy.URL, "http") + "/p/v1/realtime?model=gpt-realtime"
			c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}}})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c.SetReadLimit(1 << 20)
			if resp.Header.Get("x-ratelimit-limit-requests") != "100" {
				t.Errorf("101 fields not relayed: %v", resp.Header)
			}
			waitFor(t, func() bool { return e.value(t, "headroom_inflight_requests", "provider=p") == 1 })
			for _, m := range []string{"hello", strings.Repeat("x", 100000), "bye"} {
				if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.Read(ctx)
				if err != nil || string(got) != "echo:"+m {
					t.Fatalf("read %.40q, %v", got, err)
				}
			}
			// Observed at the 101, before the session ends.
			if v := e.value(t, "headroom_ratelimit_remaining", "resource=requests", "model=gpt-realtime"); v != 99 {
				t.Errorf("remaining from the 101 = %v:\n%s", v, e.metricsText(t))
			}
			c.Close(websocket.StatusNormalClosure, "")
			waitFor(t, func() bool { return e.value(t, "headroom_requests_total", "code=101", "model=gpt-realtime") == 1 })
			if v := e.value(t, "headroom_inflight_requests", "provider=p"); v != 0 {
				t.Errorf("inflight %v after the session", v)
			}
		})
	}
}

// An upgrade the provider refuses is relayed as the answer it is.
func TestUpgradeRefused(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "100")
		w.Header().Set("x-ratelimit-remaining-requests", "0")
		http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.proxy.URL, "http")+"/p/v1/realtime", nil)
	if err == nil || resp == nil || resp.StatusCode != 429 {
		t.Fatalf("dial: %v, %v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "slow down") {
		t.Errorf("body %q", b)
	}
	if v := e.value(t, "headroom_ratelimited_total"); v != 1 {
		t.Errorf("ratelimited_total = %v", v)
	}
}

// Providers are reached over TLS.
func TestTLSUpstream(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "10")
		w.Header().Set("x-ratelimit-remaining-requests", "9")
		io.WriteString(w, `{"usage":{"prompt_tokens":1,"completion_tokens":2}}`)
	}))
	defer up.Close()
	roots := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	e := newEnv(t, "openai", up.URL, func(o *Options) {
		o.Upstream = &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: roots}}
	})
	for range 3 {
		resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		if b := bodyOf(resp); resp.StatusCode != 200 || !strings.Contains(b, "usage") {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
		resp.Body.Close()
	}
	if v := e.value(t, "headroom_ratelimit_remaining", "resource=requests"); v != 9 {
		t.Errorf("remaining = %v", v)
	}
	// An upstream whose certificate is not trusted: 502 connect.
	e2 := newEnv(t, "openai", up.URL)
	resp, err := http.Get(e2.proxy.URL + "/p/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	if b := bodyOf(resp); resp.StatusCode != 502 || !strings.Contains(b, "connect") {
		t.Errorf("untrusted upstream: %d %q", resp.StatusCode, b)
	}
}

// OpenAI's Realtime API reports its limits as rate_limits.updated events
// inside the WebSocket: they become observations of the session's series,
// plain or compressed (permessage-deflate, with and without the window
// kept across messages), past messages too large to read.
func TestRealtimeRateLimitEvents(t *testing.T) {
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
				if err != nil {
					return
				}
				defer c.CloseNow()
				c.SetReadLimit(1 << 20)
				ctx := r.Context()
				for remaining := 99; ; remaining-- {
					if _, _, err := c.Read(ctx); err != nil {
						return
					}
					// A large audio delta first (past what is read), then
					// the event.
					c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.audio.delta","delta":"`+strings.Repeat("QUFB", 100000)+`"}`))
					ev := fmt.Sprintf(`{"type":"rate_limits.updated","event_id":"ev_%d","rate_limits":[{"name":"requests","limit":100,"remaining":%d,"reset_seconds":0.5},{"name":"tokens","limit":50000,"remaining":%d,"reset_seconds":2.25},{"name":"images","limit":"x"}]}`, remaining, remaining, remaining*100)
					if err := c.Write(ctx, websocket.MessageText, []byte(ev)); err != nil {
						return
					}
				}
			}))
			defer up.Close()
			e := newEnv(t, "openai", up.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.proxy.URL, "http")+"/p/v1/realtime?model=gpt-realtime",
				&websocket.DialOptions{CompressionMode: mode, HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			for i := range 3 {
				if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create"}`)); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if _, _, err := c.Read(ctx); err != nil {
						t.Fatal(err)
					}
				}
				want := float64(99 - i)
				if mode == websocket.CompressionContextTakeover {
					// The audio delta is too large to read: with the
					// window kept across messages, the session is not
					// followed past it.
					continue
				}
				waitFor(t, func() bool {
					return e.value(t, "headroom_ratelimit_remaining", "resource=requests", "window=1m", "model=gpt-realtime") == want
				})
				if v := e.value(t, "headroom_ratelimit_remaining", "resource=tokens", "window=1m", "model=gpt-realtime"); v != want*100 {
					t.Errorf("tokens remaining %v, want %v", v, want*100)
				}
			}
			if mode != websocket.CompressionContextTakeover {
				if v := e.value(t, "headroom_ratelimit_limit", "resource=requests", "model=gpt-realtime"); v != 100 {
					t.Errorf("requests limit %v", v)
				}
			}
		})
	}
}

// Compressed sessions whose messages stay small are followed through
// every message, the window kept across them.
func TestRealtimeCompressedSession(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover, CompressionThreshold: 1})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for remaining := 50; remaining > 40; remaining-- {
			c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.text.delta","delta":"rate_limits are fine"}`))
			c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"type":"rate_limits.updated","rate_limits":[{"name":"requests","limit":60,"remaining":%d,"reset_seconds":1}]}`, remaining)))
		}
		c.Read(ctx)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.proxy.URL, "http")+"/p/v1/realtime?model=gpt-realtime",
		&websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for range 20 {
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		return e.value(t, "headroom_ratelimit_remaining", "resource=requests", "model=gpt-realtime") == 41
	})
}
