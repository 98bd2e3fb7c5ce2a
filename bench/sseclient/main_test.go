package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroomhq/headroom/bench/internal/proc"
)

// sseServer streams events(i) events, 5 ms apart, to its i-th request
// (from 0), or answers status(i) when that is not 200.
func sseServer(t *testing.T, events func(i int) int, status func(i int) int) string {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1) - 1)
		if code := status(i); code != 200 {
			http.Error(w, "no", code)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for e := 0; e < events(i); e++ {
			if e > 0 {
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", e)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func always(v int) func(int) int { return func(int) int { return v } }

// when is a if the i-th request matches, b otherwise.
func when(match func(i int) bool, a, b int) func(int) int {
	return func(i int) int {
		if match(i) {
			return a
		}
		return b
	}
}

func TestHold(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		events, status          func(i int) int
		expect                  int
		wantEvents, wantMissing int
		wantExtra, wantFailed   int
		wantError               string
	}{
		{name: "every event", events: always(5), status: always(200), expect: 5,
			wantEvents: 100},
		{name: "every fourth stream cut short", events: when(func(i int) bool { return i%4 == 0 }, 2, 5),
			status: always(200), expect: 5, wantEvents: 85, wantMissing: 15, wantFailed: 5, wantError: "2 events, want 5"},
		{name: "refused streams", events: always(5), status: when(func(i int) bool { return i < 3 }, 503, 200),
			expect: 5, wantEvents: 85, wantMissing: 15, wantFailed: 3, wantError: "status 503"},
		{name: "more events than expected", events: always(6), status: always(200), expect: 5,
			wantEvents: 120, wantExtra: 20, wantFailed: 20, wantError: "6 events, want 5"},
		{name: "no expectation", events: always(3), status: always(200), expect: 0, wantEvents: 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := sseServer(t, tc.events, tc.status)
			newRequest := func() *http.Request {
				r, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
				return r
			}
			out := hold(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 20}},
				newRequest, 20, tc.expect, proc.Group{os.Getpid()})
			for k, want := range map[string]int{"events": tc.wantEvents, "missing_events": tc.wantMissing,
				"extra_events": tc.wantExtra, "failed_streams": tc.wantFailed} {
				if out[k] != want {
					t.Errorf("%s = %v, want %d", k, out[k], want)
				}
			}
			errs, _ := out["errors"].(map[string]int)
			if tc.wantError == "" && len(errs) > 0 || tc.wantError != "" && errs[tc.wantError] != tc.wantFailed {
				t.Errorf("errors = %v, want %d× %q", errs, tc.wantFailed, tc.wantError)
			}
			// The proc group is this process: its memory is read, and
			// the streams held open in it cost some.
			if out["rss_before_kib"].(int64) <= 0 || out["rss_held_kib"].(int64) <= 0 {
				t.Errorf("RSS before %v, held %v: want both read", out["rss_before_kib"], out["rss_held_kib"])
			}
			if out["held_ms"].(float64) < 0 || out["open_ms"].(float64) <= 0 {
				t.Errorf("open_ms %v, held_ms %v", out["open_ms"], out["held_ms"])
			}
		})
	}
}

func TestHoldWithoutProcesses(t *testing.T) {
	url := sseServer(t, always(2), always(200))
	out := hold(http.DefaultClient, func() *http.Request { r, _ := http.NewRequest("POST", url, nil); return r }, 3, 2, nil)
	if out["events"] != 6 || out["failed_streams"] != 0 {
		t.Errorf("events %v, failed %v: want 6 and 0", out["events"], out["failed_streams"])
	}
	for _, k := range []string{"rss_before_kib", "rss_held_kib", "cpu_ms"} {
		if _, ok := out[k]; ok {
			t.Errorf("%s reported with no process to read", k)
		}
	}
}

func TestSequential(t *testing.T) {
	url := sseServer(t, func(i int) int { return 3 + i%2 }, always(200))
	out := sequential(http.DefaultClient, func() *http.Request { r, _ := http.NewRequest("POST", url, nil); return r }, 4)
	for k, want := range map[string]int{"streams": 4, "events": 14, "events_min": 3, "events_max": 4} {
		if out[k] != want {
			t.Errorf("%s = %v, want %d", k, out[k], want)
		}
	}
	if gap := out["gap_p50_us"].(float64); gap < 4000 {
		t.Errorf("gap_p50_us = %v, want about 5000 (the server's pause)", gap)
	}
}

func TestReadEvents(t *testing.T) {
	long := "data: " + strings.Repeat("x", 10000) + "\n\n"
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"events", "data: a\n\ndata: b\n\n", 2},
		{"named events and comments", ": keep-alive\n\nevent: ping\ndata: a\n\n", 1},
		{"a line longer than the buffer, counted once", long + "data: b\n\n" + long, 3},
		{"a long line that is not an event", ": " + strings.Repeat("data: ", 2000) + "\n\n", 0},
		{"no final newline", "data: a\n\ndata: [DONE]", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := readEvents(bufio.NewReader(strings.NewReader(tc.in)), func() { calls++ })
			if err != nil || got != tc.want || calls != tc.want {
				t.Errorf("readEvents = %d, %v (%d calls), want %d", got, err, calls, tc.want)
			}
		})
	}
}
