package proxy

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// Token usage and model names are read from bodies as they stream past,
// without holding them: JSON answers keep a head (for "model") and a tail
// (where "usage" sits in OpenAI and Anthropic answers), event streams are
// read line by line. JSON is read with gjson: it reads only the values
// asked for, and reads a document cut at a bound (a request body past the
// 64 KiB peek, the tail of a large answer) as far as it goes, where a
// parser of whole documents would reject it.

// requestModel returns the "model" of a request body's top-level object (a
// body cut at the peek bound is read as far as it goes). A repeated key
// counts by its last value, as providers' JSON decoders (Go's, Python's)
// take it; a model that is not a string counts as none. last is the
// connection's previous model string, reused when it is the same.
func requestModel(body []byte, last *string) string {
	var m gjson.Result
	found := false
	gjson.Parse(b2s(body)).ForEach(func(k, v gjson.Result) bool {
		if k.Str == "model" {
			m, found = v, true
		}
		return true
	})
	if !found || m.Type != gjson.String {
		return ""
	}
	return reuse(last, m.Str)
}

// reuse returns s, or *last when it holds the same text: s may point into
// a buffer that is reused, and a connection's calls name the same model
// over and over (making its string each time was an allocation per call).
func reuse(last *string, s string) string {
	if s != *last {
		*last = strings.Clone(s)
	}
	return *last
}

type usage struct {
	input, output int64
	model         string
}

type sniffer interface {
	write(p []byte)
	usage() usage
}

const sniffWindow = 8 << 10

// jsonSniffer keeps the first and last sniffWindow bytes of a JSON answer
// (the whole answer when it is at most twice that).
type jsonSniffer struct {
	head, tail []byte
	cut        bool // bytes were dropped between head and tail
	model      string
}

func (s *jsonSniffer) write(p []byte) {
	if room := 2*sniffWindow - len(s.head); !s.cut && room > 0 {
		n := min(room, len(p))
		s.head = append(s.head, p[:n]...)
		p = p[n:]
	}
	if len(p) == 0 {
		return
	}
	if !s.cut {
		// Past the bound: keep the head's start, its end becomes the
		// tail's start.
		s.cut = true
		s.tail = append(s.tail[:0], s.head[sniffWindow:]...)
		s.head = s.head[:sniffWindow]
	}
	if len(p) >= sniffWindow {
		s.tail = append(s.tail[:0], p[len(p)-sniffWindow:]...)
		return
	}
	if over := len(s.tail) + len(p) - sniffWindow; over > 0 {
		s.tail = append(s.tail[:0], s.tail[over:]...)
	}
	s.tail = append(s.tail, p...)
}

func (s *jsonSniffer) usage() usage {
	var u usage
	if !s.cut {
		doc := gjson.Parse(b2s(s.head))
		u.model = stringOf(doc.Get("model"), &s.model)
		if u.model == "" {
			u.model = stringOf(doc.Get("modelVersion"), &s.model) // Gemini
		}
		u.input, u.output = tokenCounts(doc.Get("usage"))
		if u.input == 0 && u.output == 0 {
			u.input, u.output = tokenCounts(doc.Get("usageMetadata")) // Gemini
		}
		return u
	}
	u.model = stringOf(gjson.Get(b2s(s.head), "model"), &s.model)
	// The tail starts inside the document: find the last "usage" key in
	// it and read the object that follows.
	if i := bytes.LastIndex(s.tail, []byte(`"usage"`)); i >= 0 {
		rest := s.tail[i+len(`"usage"`):]
		if j := bytes.IndexByte(rest, '{'); j >= 0 && isBlankColon(rest[:j]) {
			u.input, u.output = tokenCounts(gjson.Parse(b2s(rest[j:])))
		}
	}
	return u
}

// isBlankColon reports whether b is the colon between a key and its value,
// with optional white space.
func isBlankColon(b []byte) bool {
	colon := false
	for _, c := range b {
		switch c {
		case ':':
			if colon {
				return false
			}
			colon = true
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return colon
}

func stringOf(r gjson.Result, last *string) string {
	if r.Type != gjson.String {
		return ""
	}
	return reuse(last, r.Str)
}

// tokenCounts reads a usage object: OpenAI's prompt/completion names, else
// the input/output names of Anthropic and OpenAI's Responses API, else
// Gemini's usageMetadata (promptTokenCount, candidatesTokenCount). A count
// must be a non-negative integer.
func tokenCounts(obj gjson.Result) (in, out int64) {
	if !obj.IsObject() {
		return 0, 0
	}
	pick := func(names ...string) int64 {
		for _, n := range names {
			if c := count(obj.Get(n)); c > 0 {
				return c
			}
		}
		return 0
	}
	return pick("prompt_tokens", "input_tokens", "promptTokenCount"), pick("completion_tokens", "output_tokens", "candidatesTokenCount")
}

func count(r gjson.Result) int64 {
	if r.Type != gjson.Number || r.Num < 0 || r.Num > 1e15 || r.Num != float64(int64(r.Num)) {
		return 0
	}
	return int64(r.Num)
}

// sseSniffer scans server-sent events. OpenAI sends usage once in the last
// chunk; Anthropic sends input tokens in message_start and a cumulative
// output count in message_delta events; OpenAI's Responses API sends them
// in response.completed: the maximum of each count over all events is right
// for all three.
type sseSniffer struct {
	line  []byte
	skip  bool // the current line exceeded the bound; ignored to its end
	u     usage
	model string
}

const maxSSELine = 256 << 10

func (s *sseSniffer) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			return
		}
		s.add(p[:i])
		s.endLine()
		p = p[i+1:]
	}
}

func (s *sseSniffer) add(p []byte) {
	if s.skip {
		return
	}
	if len(s.line)+len(p) > maxSSELine {
		s.skip, s.line = true, s.line[:0]
		return
	}
	s.line = append(s.line, p...)
}

// Where each API puts its model and usage in an event (OpenAI, Anthropic,
// OpenAI's Responses API, Gemini).
var (
	eventModels = []string{"model", "message.model", "response.model", "modelVersion"}
	eventUsages = []string{"usage", "message.usage", "response.usage", "usageMetadata"}
)

func (s *sseSniffer) endLine() {
	line := bytes.TrimRight(s.line, "\r")
	s.line, s.skip = s.line[:0], false
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return // "[DONE]" and the like
	}
	hasModel := s.u.model == "" && (bytes.Contains(data, []byte(`"model"`)) || bytes.Contains(data, []byte(`"modelVersion"`)))
	hasUsage := bytes.Contains(data, []byte(`"usage`))
	if !hasModel && !hasUsage {
		return
	}
	doc := gjson.Parse(b2s(data))
	if hasModel {
		for _, p := range eventModels {
			if m := stringOf(doc.Get(p), &s.model); m != "" {
				s.u.model = m
				break
			}
		}
	}
	if hasUsage {
		for _, p := range eventUsages {
			if obj := doc.Get(p); obj.IsObject() {
				in, out := tokenCounts(obj)
				s.u.input = max(s.u.input, in)
				s.u.output = max(s.u.output, out)
			}
		}
	}
}

func (s *sseSniffer) usage() usage {
	if len(s.line) > 0 {
		s.endLine()
	}
	return s.u
}

// pathModel is the model a path names, for APIs that put it there rather
// than in the body (Gemini's /v1beta/models/<model>:generateContent,
// Vertex AI's …/publishers/google/models/<model>:streamGenerateContent).
func pathModel(path []byte) string {
	i := bytes.LastIndex(path, []byte("/models/"))
	if i < 0 {
		return ""
	}
	m := path[i+len("/models/"):]
	if j := bytes.IndexAny(m, ":/?"); j >= 0 {
		m = m[:j]
	}
	if len(m) == 0 || bytes.IndexByte(m, '%') >= 0 {
		return ""
	}
	return string(m)
}
