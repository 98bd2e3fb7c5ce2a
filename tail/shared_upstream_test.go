package tail

import (
	"testing"

	"github.com/headroomhq/headroom/config"
)

// Two providers behind one upstream host and port: a line that names only
// the host is neither's (counted unknown_provider), never the first by
// name's; a line that names its provider is that provider's.
func TestSharedUpstreamHostIsNobodys(t *testing.T) {
	e := newEnv(t, `  - {name: heroku-twin, dialect: heroku, upstream: "http://127.0.0.1:18081/v2"}`+"\n")
	line := func(field, value string) []byte {
		return []byte(`{"time":"1795458935.000","status":"200","request_time":"0.100","upstream_header_time":"0.050",` +
			`"` + field + `":"` + value + `","upstream_addr":"127.0.0.1:18081","model":"m","headers":{"x-ratelimit-limit-requests":"10"}}`)
	}
	byHost := e.tailer(tailCfg(config.FormatNginx, "nginx.log"))
	byHost.Line(line("upstream_host", "127.0.0.1:18081"))
	byHost.Line(line("upstream_host", "127.0.0.1:18082")) // predictions, alone on its port
	e.expect(1, "headroom_tail_lines_total", "file=nginx.log", "result=unknown_provider")
	e.expect(1, "headroom_tail_lines_total", "file=nginx.log", "result=ok")

	cfg := tailCfg(config.FormatNginx, "named.log")
	cfg.ProviderField = "provider"
	byName := e.tailer(cfg)
	byName.Line(line("provider", "heroku-twin"))
	e.expect(1, "headroom_tail_lines_total", "file=named.log", "result=ok")
	e.expect(1, "headroom_requests_total", "provider=heroku-twin", "code=200")
}
