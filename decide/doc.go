// Package decide turns the rate-limit signal Headroom already holds into
// decisions: which keys drain one shared bucket, when each window runs out
// (drain rate and exhaustion forecast), whether a call may go now (the
// admission answer and the optional RateLimit pacing fields), which limits
// changed, and which keys keep sending while a 429's Retry-After runs.
//
// It is fed two ways. Every source (proxy, tail, probe) reports responses
// through the collector, which passes each one on (collector.Observer):
// that is provider truth, the same with any number of Headroom replicas
// because it is the provider's own counter. Sources that send calls
// themselves (the proxy) also report each call's start and end
// (Engine.Start, Engine.End) with what it will consume; that is what this
// Headroom has sent since the provider's last word, and it is per replica:
// another replica's calls are not in it.
//
// One file per job: buckets.go (shared buckets and keys that look shared),
// forecast.go (drain rate and exhaustion ETA), admit.go (the admission
// answer and pacing fields), changes.go (limit changes), compliance.go
// (Retry-After compliance), metrics.go (the Prometheus collector), api.go
// (the HTTP endpoints). docs/decide.md is the user's view.
package decide
