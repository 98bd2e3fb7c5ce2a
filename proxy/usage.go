package proxy

import "bytes"

// Token usage is read from the response as it streams past, without holding
// the body: JSON responses keep a head (for "model") and a tail (where
// "usage" sits in OpenAI and Anthropic responses); event streams are read
// line by line and only lines mentioning "usage" are decoded.

type usage struct {
	input, output int64
	model         string
}

type sniffer interface {
	write(p []byte)
	usage() usage
}

const sniffWindow = 8 << 10

// jsonSniffer keeps the first and last sniffWindow bytes of a JSON body.
type jsonSniffer struct {
	head  []byte
	tail  []byte
	model string // the last model read (reuse)
}

// reuse returns b as a string: *last when it holds the same bytes, else a
// new string, kept in *last. A connection's requests and responses name the
// same model over and over; making its string each time was an allocation
// per call.
func reuse(last *string, b []byte) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

func (s *jsonSniffer) write(p []byte) {
	if room := sniffWindow - len(s.head); room > 0 {
		n := min(room, len(p))
		s.head = append(s.head, p[:n]...)
		p = p[n:]
	}
	if len(p) == 0 {
		return
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
	u.model = reuse(&s.model, findTopLevelBytes(s.head, "model"))
	body := s.tail
	if len(body) == 0 {
		body = s.head
	}
	if obj := lastObjectAfterKey(body, `"usage"`); obj != nil {
		u.input, u.output = decodeUsage(obj)
	}
	return u
}

// sseSniffer scans server-sent events. OpenAI sends usage once in the last
// chunk; Anthropic sends input tokens in message_start and a cumulative
// output count in message_delta events: taking the maximum of each field
// over all events is right for both.
type sseSniffer struct {
	line   []byte
	skip   bool // current line exceeded the bound; ignore until newline
	u      usage
	sawUse bool
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

// reset empties s for the next response, keeping its line buffer.
func (s *sseSniffer) reset() { *s = sseSniffer{line: s.line[:0]} }

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

func (s *sseSniffer) endLine() {
	line := bytes.TrimRight(s.line, "\r")
	s.line, s.skip = s.line[:0], false
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if s.u.model == "" && bytes.Contains(data, []byte(`"model"`)) {
		s.u.model = findTopLevelString(data, "model")
		if s.u.model == "" {
			// Anthropic nests it: {"type":"message_start","message":{"model":…}}
			if msg := lastObjectAfterKey(data, `"message"`); msg != nil {
				s.u.model = findTopLevelString(msg, "model")
			}
		}
	}
	if !bytes.Contains(data, []byte(`"usage"`)) {
		return
	}
	if obj := lastObjectAfterKey(data, `"usage"`); obj != nil {
		in, out := decodeUsage(obj)
		s.u.input = max(s.u.input, in)
		s.u.output = max(s.u.output, out)
		s.sawUse = true
	}
}

func (s *sseSniffer) usage() usage {
	if len(s.line) > 0 {
		s.endLine()
	}
	return s.u
}

// decodeUsage reads the token counts of a usage object: OpenAI's
// prompt/completion names first, Anthropic's input/output names otherwise.
// A scan rather than encoding/json: it runs on every response, and
// reflection was a visible share of the proxy's CPU.
func decodeUsage(obj []byte) (in, out int64) {
	// OpenAI's names first, then Anthropic's; a count must be a positive
	// integer. The first of a key repeated counts.
	var n [4]int64 // prompt, input, completion, output
	var seen [4]bool
	eachTopLevel(obj, func(k, rest []byte) bool {
		i := -1
		switch string(k) {
		case "prompt_tokens":
			i = 0
		case "input_tokens":
			i = 1
		case "completion_tokens":
			i = 2
		case "output_tokens":
			i = 3
		}
		if i >= 0 && !seen[i] {
			seen[i] = true
			n[i], _ = parseTokenCount(rest)
		}
		return true
	})
	pick := func(a, b int64) int64 {
		if a > 0 {
			return a
		}
		return max(b, 0)
	}
	return pick(n[0], n[1]), pick(n[2], n[3])
}

// findTopLevelInt returns the integer value of key in the top-level object
// of b; ok is false when it is missing or not a plain integer.
func findTopLevelInt(b []byte, key string) (v int64, ok bool) {
	return parseTokenCount(findTopLevelValue(b, key))
}

// parseTokenCount reads the plain integer at the start of val.
func parseTokenCount(val []byte) (v int64, ok bool) {
	n := 0
	for n < len(val) && n < 18 && '0' <= val[n] && val[n] <= '9' {
		v = v*10 + int64(val[n]-'0')
		n++
	}
	if n == 0 || (n < len(val) && (val[n] == '.' || val[n] == 'e' || val[n] == 'E' || ('0' <= val[n] && val[n] <= '9'))) {
		return 0, false
	}
	return v, true
}

// lastObjectAfterKey returns the balanced {...} following the last
// occurrence of key (including quotes) in b, or nil.
func lastObjectAfterKey(b []byte, key string) []byte {
	i := lastIndexQuoted(b, key)
	if i < 0 {
		return nil
	}
	rest := b[i+len(key):]
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r' || rest[j] == ':') {
		j++
	}
	if j >= len(rest) || rest[j] != '{' {
		return nil
	}
	end := matchBrace(rest[j:])
	if end < 0 {
		return nil
	}
	return rest[j : j+end+1]
}

// lastIndexQuoted is bytes.LastIndex for a key that starts with a quote:
// quotes are what a JSON document has fewest of among its bytes, so it
// looks only at them (bytes.LastIndex hashes every byte).
func lastIndexQuoted(b []byte, key string) int {
	for end := len(b); ; {
		i := bytes.LastIndexByte(b[:end], '"')
		if i < 0 {
			return -1
		}
		if len(b)-i >= len(key) && string(b[i:i+len(key)]) == key {
			return i
		}
		end = i
	}
}

// matchBrace returns the index of the brace closing b[0], honouring strings.
func matchBrace(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			if i = stringEnd(b, i+1); i < 0 {
				return -1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// findTopLevelString returns the string value of key in the top-level
// object of a (possibly truncated) JSON document, without allocating for
// the scan: nested objects, arrays and string contents are skipped.
func findTopLevelString(b []byte, key string) string {
	return string(findTopLevelBytes(b, key))
}

// findTopLevelBytes is findTopLevelString without the copy.
func findTopLevelBytes(b []byte, key string) []byte {
	v := findTopLevelValue(b, key)
	if len(v) == 0 || v[0] != '"' {
		return nil
	}
	for k := 1; k < len(v); k++ {
		switch {
		case v[k] == '"':
			return v[1:k]
		case v[k] == '\\':
			return nil // escaped model names: not worth decoding
		case v[k] < 0x20:
			// A raw control character is invalid JSON: no model label
			// from it (the body still goes upstream untouched).
			return nil
		}
	}
	return nil
}

// findTopLevelValue returns b from the start of the value of the first
// top-level key equal to key (nil when there is none).
func findTopLevelValue(b []byte, key string) (v []byte) {
	eachTopLevel(b, func(k, rest []byte) bool {
		if string(k) == key {
			v = rest
			return false
		}
		return true
	})
	return v
}

// eachTopLevel calls f with each key of the top-level object of b (a
// possibly truncated JSON document) and b from the start of that key's
// value, until f returns false. Nested objects, arrays and string contents
// are skipped.
func eachTopLevel(b []byte, f func(key, rest []byte) bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				return
			}
			if depth == 1 {
				// A key when the next non-space is ':'.
				j := end + 1
				for j < len(b) && isSpace(b[j]) {
					j++
				}
				if j < len(b) && b[j] == ':' {
					j++
					for j < len(b) && isSpace(b[j]) {
						j++
					}
					if !f(b[i+1:end], b[j:]) {
						return
					}
				}
			}
			i = end
		}
	}
}

// stringEnd returns the index of the quote that closes the string whose
// contents start at b[i], or -1 when b ends first.
func stringEnd(b []byte, i int) int {
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return -1
		}
		q := i + k
		bs := 0 // backslashes before the quote: an odd count escapes it
		for q-1-bs >= i && b[q-1-bs] == '\\' {
			bs++
		}
		if bs%2 == 0 {
			return q
		}
		i = q + 1
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
