package decide

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// Unknown or hostile query values get a 4xx JSON error naming the
// parameter, never echo a value, and create no state.
func TestAdmitRejectsBadQueries(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, false)
	respond(e, lbl("openai", "gpt-4o", "prod"), 200, at(0), obs(parsers.Requests, "1m", 100, 50, at(time.Minute)))
	series, buckets := len(e.series), len(e.bk)
	const secret = "sk-live-abcdefghijklmnop"
	cases := []struct {
		query  string
		status int
		param  string
	}{
		{"", 400, "provider"},
		{"provider=openai", 400, "key"},
		{"provider=nope&key=prod", 404, "provider"},
		{"provider=openai&key=" + secret, 400, "key"},
		{"provider=openai&key=Bearer%20" + secret, 400, "key"},
		{"provider=openai&key=k-0123456789AB", 400, "key"}, // upper-case hex: not a fingerprint
		{"provider=openai&key=prod&tokens=-1", 400, "tokens"},
		{"provider=openai&key=prod&tokens=1e9", 400, "tokens"},
		{"provider=openai&key=prod&requests=99999999999", 400, "requests"},
		{"provider=openai&key=prod&max_tokens=x", 400, "max_tokens"},
		{"provider=openai&key=prod&key=batch", 400, "key"},
		{"provider=openai&key=prod&api_key=" + secret, 400, "api_key"},
		{"provider=openai&key=prod&model=%00", 400, "model"},
		{"provider=openai&key=prod&model=%ff", 400, "model"},
		{"provider=openai&key=prod&model=" + string(bytes.Repeat([]byte("m"), 129)), 400, "model"},
		{"provider=openai&key=prod&%zz=1", 400, ""},
		{"provider=openai&key=%zz", 400, "key"},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		e.ServeAdmit(w, httptest.NewRequest("GET", "/api/v1/admit?"+tc.query, nil))
		var body struct {
			Error struct {
				Type, Parameter, Message string
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.status || body.Error.Parameter != tc.param || body.Error.Message == "" {
			t.Errorf("%q: %d %s (%v), want %d naming %q", tc.query, w.Code, w.Body, err, tc.status, tc.param)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%q: Content-Type %q", tc.query, ct)
		}
		if bytes.Contains(w.Body.Bytes(), []byte("abcdefghijklmnop")) {
			t.Errorf("%q: the value is echoed: %s", tc.query, w.Body)
		}
	}
	// Good queries for unseen models and keys answer, and create nothing either.
	for _, q := range []string{
		"provider=openai&key=k-abcdefabcdef&model=gpt-4o&tokens=10",
		"provider=openai&key=prod&model=never-seen",
		"provider=heroku-us&key=none",
	} {
		w := httptest.NewRecorder()
		e.ServeAdmit(w, httptest.NewRequest("GET", "/api/v1/admit?"+q, nil))
		if w.Code != 200 {
			t.Errorf("%q: %d %s", q, w.Code, w.Body)
		}
	}
	if len(e.series) != series || len(e.bk) != buckets {
		t.Fatalf("queries created state: %d series (was %d), %d buckets (was %d)", len(e.series), series, len(e.bk), buckets)
	}
}

// The hand-written JSON is what encoding/json writes.
func TestAnswerJSON(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, false)
	respond(e, lbl("openai", `gpt-"4o"<&>`, "prod"), 200, at(0), obs(parsers.Requests, "1m", 100, 0, at(1500*time.Millisecond)))
	c.set(time.Second / 3)
	for _, a := range []Answer{
		e.Admit(Request{Provider: "openai", Model: `gpt-"4o"<&>`, Key: "prod", Requests: 1}),
		e.Admit(Request{Provider: "openai", Model: "x", Key: "k-abcdefabcdef", Requests: 1}),
		{Admit: true, WaitSeconds: 1e-7, Reason: "x", Limiting: &Limiting{Remaining: -2.5e21}},
	} {
		want, _ := json.Marshal(a)
		if got := appendAnswer(nil, &a); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	w := httptest.NewRecorder()
	e.ServeAdmit(w, httptest.NewRequest("GET", "/api/v1/admit?provider=openai&key=prod&model=gpt-%224o%22%3C%26%3E", nil))
	var a Answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != http.StatusOK || a.Admit || a.Reason != ReasonExhausted {
		t.Fatalf("%d %s %v", w.Code, w.Body, err)
	}
}
