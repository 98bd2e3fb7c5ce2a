package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/decide/client"
	"github.com/headroomhq/headroom/parsers"
)

// The client against the real handler: an exhausted bucket, a key with no
// data, a bad query, an unreachable agent.
func TestClient(t *testing.T) {
	cfg, err := config.Load("../testdata/providers.yaml", catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 10, 0, time.UTC)
	e := decide.New(decide.Options{Now: func() time.Time { return now }})
	e.Update(cfg)
	l := collector.Labels{Provider: "openai", Model: "gpt-4o", LimitModel: "gpt-4o", Key: "prod"}
	e.ObservedResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{{Resource: "requests", Window: "1m",
		Limit: 10, Remaining: 1, HasLimit: true, HasRemaining: true, Reset: now.Add(20 * time.Second)}}}, now.Add(-time.Second))
	e.Start(l, now, 0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/admit", e.ServeAdmit)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL + "/")
	ctx := context.Background()

	a, err := c.Admit(ctx, client.Query{Provider: "openai", Model: "gpt-4o", Key: "ci", Tokens: 10})
	if err != nil || a.Admit || a.Wait() != 20*time.Second || a.Bucket != "org-a" || a.Limiting.Remaining != 0 || a.Limiting.SentSince != 1 {
		t.Fatalf("%+v %v", a, err)
	}
	if ok, wait, err := c.Admitted(ctx, client.Query{Provider: "openai", Model: "gpt-4o", Key: "k-abcdefabcdef"}); !ok || wait != 0 || err != nil {
		t.Fatalf("no data: %v %v %v", ok, wait, err)
	}
	_, err = c.Admit(ctx, client.Query{Provider: "openai", Key: "sk-not-a-label"})
	var qe *client.Error
	if !errors.As(err, &qe) || qe.Status != 400 || qe.Parameter != "key" {
		t.Fatalf("bad query: %v", err)
	}
	if ok, _, err := c.Admitted(ctx, client.Query{Provider: "openai", Key: "sk-not-a-label"}); ok || err == nil {
		t.Fatal("a bad query is admitted")
	}
	srv.Close()
	if ok, wait, err := c.Admitted(ctx, client.Query{Provider: "openai", Key: "prod"}); !ok || wait != 0 || err != nil {
		t.Fatalf("unreachable: %v %v %v", ok, wait, err)
	}
}
