package proxy

import (
	"bytes"
	"testing"
)

// The JSON scans as they were before eachTopLevel and lastIndexQuoted
// (byte-at-a-time, bytes.LastIndex), kept as the reference the fuzz test
// compares the faster ones with.

func refFindTopLevelValue(b []byte, key string) []byte {
	depth, inStr, esc := 0, false, false
	strStart := -1
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
				if depth == 1 && i-strStart == len(key) && string(b[strStart:i]) == key {
					j := i + 1
					for j < len(b) && isSpace(b[j]) {
						j++
					}
					if j < len(b) && b[j] == ':' {
						j++
						for j < len(b) && isSpace(b[j]) {
							j++
						}
						return b[j:]
					}
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr, strStart = true, i+1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return nil
}

func refMatchBrace(b []byte) int {
	depth, inStr, esc := 0, false, false
	for i, c := range b {
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func refLastObjectAfterKey(b []byte, key string) []byte {
	i := bytes.LastIndex(b, []byte(key))
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
	end := refMatchBrace(rest[j:])
	if end < 0 {
		return nil
	}
	return rest[j : j+end+1]
}

func refDecodeUsage(obj []byte) (in, out int64) {
	pick := func(a, b string) int64 {
		if v, ok := parseTokenCount(refFindTopLevelValue(obj, a)); ok && v > 0 {
			return v
		}
		if v, ok := parseTokenCount(refFindTopLevelValue(obj, b)); ok && v > 0 {
			return v
		}
		return 0
	}
	return pick("prompt_tokens", "input_tokens"), pick("completion_tokens", "output_tokens")
}

// FuzzUsageScan: the scans give what the reference ones give.
//
//	go test -run XXX -fuzz FuzzUsageScan -fuzztime 60s ./proxy
func FuzzUsageScan(f *testing.F) {
	for _, s := range []string{
		benchCompletion,
		`{"type":"message_start","message":{"model":"claude","usage":{"input_tokens":25,"output_tokens":1}}}`,
		`{"usage":{"prompt_tokens":3,"prompt_tokens":4,"completion_tokens":"5"}}`,
		`{"a":"x\"model\":1","model":"m\\","usage" : {"input_tokens":7}`,
		`{"model":"gpt\u00e9","usage":{"completion_tokens":1e3,"output_tokens":12}}`,
		`[{"model":"no"}],"model":"yes"`,
		`{"usage":{"prompt_tokens":9,"x":{"completion_tokens":3}},"usage":{"output_tokens":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, key := range []string{"model", "usage", "prompt_tokens", "a"} {
			if got, want := findTopLevelValue(b, key), refFindTopLevelValue(b, key); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("findTopLevelValue(%q, %q) = %q, want %q", b, key, got, want)
			}
		}
		for _, key := range []string{`"usage"`, `"message"`} {
			if got, want := lastObjectAfterKey(b, key), refLastObjectAfterKey(b, key); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("lastObjectAfterKey(%q, %q) = %q, want %q", b, key, got, want)
			}
		}
		gotIn, gotOut := decodeUsage(b)
		if wantIn, wantOut := refDecodeUsage(b); gotIn != wantIn || gotOut != wantOut {
			t.Fatalf("decodeUsage(%q) = %d, %d, want %d, %d", b, gotIn, gotOut, wantIn, wantOut)
		}
		if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
			if got, want := matchBrace(b), refMatchBrace(b); got != want {
				t.Fatalf("matchBrace(%q) = %d, want %d", b, got, want)
			}
		}
	})
}
