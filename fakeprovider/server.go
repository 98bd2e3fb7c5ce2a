package fakeprovider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// maxBody bounds request bodies.
const maxBody = 16 << 20

// maxCachedModels bounds the per-model limit cache (models come from clients).
const maxCachedModels = 4096

// Server is a fake provider. It is an http.Handler; use New for the common
// case.
type Server struct {
	opts      Options
	d         *dialect
	prov      *catalog.Provider // nil when no catalog provider speaks the dialect
	acct      *accountant
	keyHeader string
	keys      map[string]bool
	log       *slog.Logger
	now       func() time.Time

	mu     sync.Mutex
	limits map[string]resolved

	seq atomic.Uint64
}

type resolved struct {
	model string // the catalog's spelling, used for accounting
	defs  []limitDef
}

// loadCatalog loads the embedded catalog once; it is read-only.
var loadCatalog = sync.OnceValues(catalog.Load)

// New returns a fake provider for o. It panics when o is invalid (an
// unknown provider or dialect, a malformed limit); use NewServer to get the
// error instead.
func New(o Options) http.Handler {
	s, err := NewServer(o)
	if err != nil {
		panic("fakeprovider: " + err.Error())
	}
	return s
}

// NewServer returns a fake provider for o.
func NewServer(o Options) (*Server, error) {
	cat := o.Catalog
	if cat == nil {
		var err error
		if cat, err = loadCatalog(); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: o, log: o.Logger, now: o.Now, limits: map[string]resolved{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.CompletionTokens <= 0 {
		s.opts.CompletionTokens = DefaultCompletionTokens
	}
	if s.opts.StreamChunks <= 0 {
		s.opts.StreamChunks = DefaultStreamChunks
	}
	if s.opts.StreamDelay < 0 {
		return nil, errors.New("StreamDelay is negative")
	}
	if o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0) {
		return nil, fmt.Errorf("Scale %v: must be a positive number", o.Scale)
	}
	switch {
	case o.Provider != "":
		p, ok := cat.Lookup(o.Provider)
		if !ok {
			names := make([]string, 0, len(cat.Providers))
			for _, p := range cat.Providers {
				names = append(names, p.Name)
			}
			return nil, fmt.Errorf("provider %q is not in the catalog (known: %s)", o.Provider, strings.Join(names, ", "))
		}
		s.prov = p
	default:
		want := o.Dialect
		if want == "" {
			want = "openai"
		}
		for i := range cat.Providers {
			if cat.Providers[i].Dialect == want {
				s.prov = &cat.Providers[i]
				break
			}
		}
	}
	name := o.Dialect
	if name == "" {
		if s.prov != nil {
			name = s.prov.Dialect
		} else {
			name = "openai"
		}
	}
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("dialect %q is not spoken by the fake (known: %s)", name, strings.Join(Dialects(), ", "))
	}
	s.d = d
	s.acct = newAccountant(d.kind)
	if err := s.acct.share(o.SharedKeys); err != nil {
		return nil, err
	}
	for _, l := range o.Limits {
		if err := checkLimit(l.Resource, l.Window); err != nil {
			return nil, fmt.Errorf("Limits: %s/%s: %w", l.Resource, l.Window, err)
		}
		if math.IsNaN(l.Value) || math.IsInf(l.Value, 0) {
			return nil, fmt.Errorf("Limits: %s/%s: bad value", l.Resource, l.Window)
		}
	}
	s.keyHeader = o.KeyHeader
	if s.keyHeader == "" && s.prov != nil {
		s.keyHeader = s.prov.KeyHeader
	}
	if len(o.Keys) > 0 {
		s.keys = map[string]bool{}
		for _, k := range o.Keys {
			s.keys[k] = true
		}
	}
	return s, nil
}

// Dialect is the dialect the server speaks.
func (s *Server) Dialect() string { return s.d.name }

// Provider is the catalog instance the limits come from ("" if none).
func (s *Server) Provider() string {
	if s.prov == nil {
		return ""
	}
	return s.prov.Name
}

// Limits returns the effective limits of model (Model "" for key-level ones).
func (s *Server) Limits(model string) []catalog.Limit {
	r := s.resolve(model)
	out := make([]catalog.Limit, len(r.defs))
	for i, l := range r.defs {
		m := r.model
		if l.keyScope {
			m = ""
		}
		out[i] = catalog.Limit{Model: m, Resource: l.Resource, Window: l.Window, Value: l.Value}
	}
	return out
}

// Snapshot returns the current state of key's limits for model without
// charging anything.
// An empty model is the one a request without a model gets.
func (s *Server) Snapshot(key, model string) []LimitState {
	if model == "" {
		model = s.defaultModel()
	}
	r := s.resolve(model)
	return s.acct.snapshot(s.now(), key, r.model, r.defs)
}

// defaultModel is used when a request names none.
func (s *Server) defaultModel() string {
	if s.prov != nil && len(s.prov.Models) > 0 {
		return s.prov.Models[0]
	}
	return "fake-model"
}

// resolve computes (and caches) the effective limits of a model.
func (s *Server) resolve(model string) resolved {
	s.mu.Lock()
	r, ok := s.limits[model]
	s.mu.Unlock()
	if ok {
		return r
	}
	r = s.compute(model)
	s.mu.Lock()
	if len(s.limits) < maxCachedModels {
		s.limits[model] = r
	}
	s.mu.Unlock()
	return r
}

func (s *Server) compute(model string) resolved {
	canon, known := model, false
	if s.prov != nil {
		for _, m := range s.prov.Models {
			if m == model {
				canon, known = m, true
				break
			}
		}
		if !known {
			for _, m := range s.prov.Models {
				if strings.EqualFold(m, model) {
					canon, known = m, true
					break
				}
			}
		}
	}
	var defs []limitDef
	if s.prov != nil {
		for _, l := range s.prov.Limits {
			switch {
			case l.Model == "":
				defs = append(defs, limitDef{Resource: l.Resource, Window: l.Window, Value: l.Value, keyScope: true})
			case known && l.Model == canon:
				defs = append(defs, limitDef{Resource: l.Resource, Window: l.Window, Value: l.Value})
			}
		}
	}
	if !known {
		// The dialect's defaults, except where a key-level limit already
		// covers the (resource, window).
	defaults:
		for _, l := range s.d.limitsFor(canon) {
			for _, k := range defs {
				if k.Resource == l.Resource && k.Window == l.Window {
					continue defaults
				}
			}
			defs = append(defs, limitDef{Resource: l.Resource, Window: l.Window, Value: l.Value})
		}
	}
	if sc := s.opts.Scale; sc > 0 && sc != 1 {
		for i := range defs {
			v := math.Round(defs[i].Value * sc)
			if v < 1 && defs[i].Value > 0 {
				v = 1
			}
			defs[i].Value = v
		}
	}
	override := func(o catalog.Limit, modelOnly bool) {
		found := false
		out := defs[:0]
		for _, l := range defs {
			if l.Resource == o.Resource && l.Window == o.Window && (!modelOnly || !l.keyScope) {
				found = true
				if o.Value < 0 {
					continue
				}
				l.Value = o.Value
			}
			out = append(out, l)
		}
		defs = out
		if !found && o.Value >= 0 {
			defs = append(defs, limitDef{Resource: o.Resource, Window: o.Window, Value: o.Value})
		}
	}
	for _, o := range s.opts.Limits {
		if o.Model == "" {
			override(o, false)
		}
	}
	for _, o := range s.opts.Limits {
		if o.Model != "" && (o.Model == canon || strings.EqualFold(o.Model, model)) {
			override(o, true)
		}
	}
	if s.d.only != nil {
		kept := defs[:0]
		for _, l := range defs {
			if s.d.only(l.Resource, l.Window) {
				kept = append(kept, l)
			}
		}
		defs = kept
	}
	for i := range defs {
		d, _ := parsers.ParseWindow(defs[i].Window)
		defs[i].dur = d
		if d <= 0 && !defs[i].concurrency() {
			// Rate limits need a window; the catalog and checkLimit ensure it.
			defs[i].dur = time.Minute
		}
	}
	return resolved{model: canon, defs: defs}
}

// route is an endpoint, matched on the path suffix.
type route uint8

const (
	routeNone route = iota
	routeChat
	routeMessages
	routePredictions
	routeModels
	routeGenerate // Gemini's native …/models/<model>:generateContent
)

func routeOf(path string) route {
	path = strings.TrimSuffix(path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return routeChat
	case strings.HasSuffix(path, "/messages"):
		return routeMessages
	case strings.HasSuffix(path, "/predictions"):
		return routePredictions
	case strings.HasSuffix(path, "/models"):
		return routeModels
	case strings.HasSuffix(path, ":generateContent"):
		return routeGenerate
	}
	return routeNone
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	w.Header()["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	rt := routeOf(r.URL.Path)
	if rt == routeNone {
		s.fail(w, r, http.StatusNotFound, "not_found_error", "unknown endpoint "+r.URL.Path)
		return
	}
	method := http.MethodPost
	if rt == routeModels {
		method = http.MethodGet
	}
	if r.Method != method && !(rt == routeModels && r.Method == http.MethodHead) {
		w.Header()["Allow"] = []string{method}
		s.fail(w, r, http.StatusMethodNotAllowed, "invalid_request_error", "method "+r.Method+" not allowed")
		return
	}
	key, ok := s.credential(r)
	if !ok {
		msg := "missing API key: send Authorization: Bearer <key>"
		if s.keyHeader != "" {
			msg += " or " + s.keyHeader + ": <key>"
		}
		if key != "" {
			msg = "invalid API key"
		}
		s.fail(w, r, http.StatusUnauthorized, "authentication_error", msg)
		return
	}
	if msg := s.d.checkVersion(r, rt); msg != "" {
		s.fail(w, r, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	if rt == routeModels {
		s.serveModels(w)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "key", fingerprint(key), "status", http.StatusOK)
		return
	}
	s.serveInference(w, r, rt, key, now)
}

// checkVersion is the dialect's versionHeader rule: "" when the request
// may go on, else the provider's error message. The key is checked first,
// so a request without either is told about the key.
func (d *dialect) checkVersion(r *http.Request, rt route) string {
	if d.versionHeader == "" || rt == routeChat {
		return ""
	}
	v := r.Header.Get(d.versionHeader)
	if v == "" {
		return d.versionHeader + ": header is required"
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return fmt.Sprintf("%s: %q is not a version (a date such as 2023-06-01)", d.versionHeader, v)
	}
	return ""
}

// credential extracts the API key; ok is false when it is missing or not
// in Options.Keys (key is then what was sent, possibly "").
func (s *Server) credential(r *http.Request) (key string, ok bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token") {
			key = strings.TrimSpace(rest)
		}
	}
	if key == "" && s.keyHeader != "" {
		key = strings.TrimSpace(r.Header.Get(s.keyHeader))
	}
	if key == "" {
		return "", false
	}
	if s.keys != nil && !s.keys[key] {
		return key, false
	}
	return key, true
}

// fingerprint is how keys appear in logs: never the key itself.
func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "k-" + hex.EncodeToString(sum[:6])
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, kind, msg string) {
	s.writeError(w, status, s.d.renderError(status, kind, msg))
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status, "error", msg)
}

// writeError writes an error body with the dialect's content type.
func (s *Server) writeError(w http.ResponseWriter, status int, body []byte) {
	ct := s.d.errorContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header()["Content-Type"] = []string{ct}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// inferenceRequest holds the fields of the request bodies the fake reads.
type inferenceRequest struct {
	Model               string          `json:"model"`
	Version             string          `json:"version"`
	Stream              bool            `json:"stream"`
	MaxTokens           *float64        `json:"max_tokens"`
	MaxCompletionTokens *float64        `json:"max_completion_tokens"`
	Input               json.RawMessage `json:"input"`
	GenerationConfig    struct {
		MaxOutputTokens *float64 `json:"maxOutputTokens"`
	} `json:"generationConfig"`
}

type predictionInput struct {
	MaxTokens    *float64 `json:"max_tokens"`
	MaxNewTokens *float64 `json:"max_new_tokens"`
}

// estimate applies the token rule (see the package documentation).
func (s *Server) estimate(body []byte, req *inferenceRequest) cost {
	prompt := math.Max(1, math.Ceil(float64(len(body))/4))
	completion := 0.0
	for _, p := range []*float64{req.MaxCompletionTokens, req.MaxTokens, req.GenerationConfig.MaxOutputTokens} {
		if p != nil && *p > 0 {
			completion = math.Ceil(*p)
			break
		}
	}
	if completion == 0 && len(req.Input) > 0 {
		var in predictionInput
		if json.Unmarshal(req.Input, &in) == nil {
			for _, p := range []*float64{in.MaxTokens, in.MaxNewTokens} {
				if p != nil && *p > 0 {
					completion = math.Ceil(*p)
					break
				}
			}
		}
	}
	if completion == 0 {
		completion = float64(s.opts.CompletionTokens)
	}
	return cost{prompt: prompt, completion: completion}
}

// deploymentModel finds the Azure-style model in …/deployments/<name>/….
func deploymentModel(path string) string {
	_, rest, ok := strings.Cut(path, "/deployments/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func (s *Server) serveInference(w http.ResponseWriter, r *http.Request, rt route, key string, now time.Time) {
	var delay time.Duration
	if v := r.Header.Get("X-Fake-Delay"); v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 || d > MaxFakeDelay {
			s.fail(w, r, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("X-Fake-Delay %q: want a Go duration between 0 and %s", v, MaxFakeDelay))
			return
		}
		delay = d
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "invalid_request_error", "request body too large or unreadable")
		return
	}
	var req inferenceRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, "invalid_request_error", "request body is not a JSON object: "+err.Error())
		return
	}
	model := req.Model
	if model == "" && rt == routePredictions {
		model = req.Version
	}
	if model == "" {
		model = deploymentModel(r.URL.Path)
	}
	if model == "" && rt == routeGenerate {
		model = geminiPathModel(r.URL.Path)
	}
	if model == "" {
		model = s.defaultModel()
	}
	stream := req.Stream && rt != routePredictions && rt != routeGenerate
	c := s.estimate(body, &req)
	res := s.resolve(model)

	expected := delay
	if stream {
		expected += time.Duration(s.opts.StreamChunks+4) * s.opts.StreamDelay
	}
	adm := s.acct.admit(now, key, res.model, res.defs, c, time.Now().Add(expected))
	h := w.Header()
	if adm.throttle != nil {
		s.d.writeLimitHeaders(h, adm.states, now, c, http.StatusTooManyRequests)
		s.d.writeRetryAfter(h, adm.throttle.RetryAfter)
		adm.throttle.APIVersion = r.URL.Query().Get("api-version")
		adm.throttle.Path = r.URL.Path
		if s.d.on429 != nil {
			s.d.on429(h, adm.throttle, adm.states, now)
		}
		render := s.d.rateLimited
		if adm.throttle.Concurrency && s.d.concurrencyLimited != nil {
			render = s.d.concurrencyLimited
		}
		if render != nil {
			s.writeError(w, http.StatusTooManyRequests, render(adm.throttle))
		} else {
			w.WriteHeader(http.StatusTooManyRequests)
		}
		s.log.Info("rate limited", "path", r.URL.Path, "model", model, "key", fingerprint(key),
			"resource", adm.throttle.Resource, "window", adm.throttle.Window, "limit", adm.throttle.Limit,
			"used", adm.throttle.Used, "requested", adm.throttle.Requested, "retry_after", adm.throttle.RetryAfter)
		return
	}
	defer adm.release()
	status := http.StatusOK
	if rt == routePredictions {
		status = http.StatusCreated
	}
	s.d.writeLimitHeaders(h, adm.states, now, c, status)

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	id := s.seq.Add(1)
	reply := reply{id: id, model: model, created: now, prompt: int64(c.prompt), completion: int64(c.completion), chunks: chunks(s.opts.StreamChunks)}
	switch {
	case rt == routePredictions:
		writeJSON(w, http.StatusCreated, reply.prediction(req, delay, s.now()))
	case stream:
		sw := &sseWriter{w: w, rc: http.NewResponseController(w), delay: s.opts.StreamDelay, done: r.Context().Done()}
		h["Content-Type"] = []string{"text/event-stream"}
		h["Cache-Control"] = []string{"no-cache"}
		w.WriteHeader(http.StatusOK)
		if rt == routeMessages {
			reply.streamMessages(sw)
		} else {
			reply.streamChat(sw)
		}
	case rt == routeMessages:
		writeJSON(w, http.StatusOK, reply.message())
	case rt == routeGenerate:
		writeJSON(w, http.StatusOK, reply.generate())
	default:
		writeJSON(w, http.StatusOK, reply.chat())
	}
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "model", model, "key", fingerprint(key),
		"stream", stream, "prompt_tokens", c.prompt, "completion_tokens", c.completion, "delay", delay)
}

func (s *Server) serveModels(w http.ResponseWriter) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	owner := "fakeprovider"
	var names []string
	if s.prov != nil {
		owner, names = s.prov.Family, s.prov.Models
	}
	if len(names) == 0 {
		names = []string{s.defaultModel()}
	}
	for _, n := range names {
		list.Data = append(list.Data, model{ID: n, Object: "model", OwnedBy: owner})
	}
	writeJSON(w, http.StatusOK, mustJSON(list))
}
