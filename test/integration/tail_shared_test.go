package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
)

// Two providers behind one upstream host and port, through a real nginx
// with the shipped log format: check-config rejects telling them apart by
// upstream_host, naming both; with the per-location provider field
// (set $headroom_provider, tail provider_field: provider) each line is
// its own provider's.
func TestNginxTailSharedUpstream(t *testing.T) {
	up := fakes(t, map[string]fakeprovider.Options{"sambanova": {Now: frozen()}})["sambanova"]
	ng := startNginx(t, map[string]string{"samba-a": up + "/a", "samba-b": up + "/b"})
	providers := fmt.Sprintf("providers:\n  - {name: samba-a, catalog: sambanova, upstream: %q}\n  - {name: samba-b, catalog: sambanova, upstream: %q}\n",
		up+"/a", up+"/b")
	byHost := providers + fmt.Sprintf("tail:\n  - {path: %s, format: nginx}\n", ng.log)
	f, err := config.Parse([]byte(byHost))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Resolve(f, catalog.MustLoad()); err == nil ||
		!strings.Contains(err.Error(), `providers "samba-a" and "samba-b" share the upstream 127.0.0.1 port`) ||
		!strings.Contains(err.Error(), "set provider_field: provider") {
		t.Fatalf("shared upstream accepted or unexplained: %v", err)
	}

	h := startAgent(t, providers+fmt.Sprintf("tail:\n  - {path: %s, format: nginx, provider_field: provider, poll_interval: 10ms}\n", ng.log), nil)
	auth := []string{"Authorization", "Bearer nginx-SHARED"}
	for i := 0; i < 2; i++ {
		ng.call("samba-a", "/v1/chat/completions", chat("Meta-Llama-3.1-8B-Instruct"), auth...)
	}
	for i := 0; i < 3; i++ {
		ng.call("samba-b", "/v1/chat/completions", chat("Meta-Llama-3.1-8B-Instruct"), auth...)
	}
	h.waitFor(5, "headroom_tail_lines_total", "file="+ng.log, "result=ok")
	base := []string{"model=Meta-Llama-3.1-8B-Instruct", "key=none", "code=200"}
	h.expect(2, "headroom_requests_total", append([]string{"provider=samba-a"}, base...)...)
	h.expect(3, "headroom_requests_total", append([]string{"provider=samba-b"}, base...)...)
	// One upstream, one key: both providers see the same account drain.
	lim := []string{"model=Meta-Llama-3.1-8B-Instruct", "key=none", "resource=requests", "window=1d"}
	h.expect(28795, "headroom_ratelimit_remaining", append([]string{"provider=samba-b"}, lim...)...)
	h.expect(28798, "headroom_ratelimit_remaining", append([]string{"provider=samba-a"}, lim...)...)
	h.expect(0, "headroom_tail_lines_total", "file="+ng.log, "result=unknown_provider")
}
