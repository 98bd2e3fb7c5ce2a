package proxy

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/tidwall/gjson"

	"github.com/headroomhq/headroom/parsers"
)

// OpenAI's Realtime API reports its rate limits inside the WebSocket, as
// "rate_limits.updated" server events:
//
//	{"type":"rate_limits.updated","event_id":"…","rate_limits":[
//	  {"name":"requests","limit":1000,"remaining":999,"reset_seconds":0.06},
//	  {"name":"tokens","limit":50000,"remaining":49950,"reset_seconds":0.06}]}
//
// (https://platform.openai.com/docs/api-reference/realtime-server-events/rate_limits/updated;
// name is "requests" or "tokens"). The provider's messages are read as they
// are relayed to the client, without holding them up: frames are framed
// with github.com/gobwas/ws, text messages of up to maxWSMessage bytes are
// looked at, and those events become observations of the session's call,
// in the same series as the provider's HTTP headers: OpenAI's limits are
// per minute, so their window is 1m, and reset is reset_seconds from the
// event's arrival. A session with permessage-deflate is inflated as it
// goes (with the window the provider keeps across messages, unless it
// negotiated server_no_context_takeover); a compressed message too large to
// follow ends the reading of that session, never the session.

const maxWSMessage = 256 << 10

type wsWatch struct {
	c    *call
	pend []byte // the frame being read: its head and as much payload as came
	skip int64  // payload bytes of a frame too large to read, still to pass

	msg             []byte // the message so far (its frames' payloads)
	msgText, msgDef bool   // a text message; compressed (RSV1 on its first frame)
	drop            bool   // the message is too large to read

	deflate, takeover bool
	window            []byte // the last 32 KiB inflated (the provider's window)
	fl                io.ReadCloser
	out               bytes.Buffer
	off               bool // stopped reading this session
}

// newWSWatch reads the session of c, whose 101 negotiated extensions.
func newWSWatch(c *call, extensions string) *wsWatch {
	w := &wsWatch{c: c}
	for _, ext := range strings.Split(extensions, ",") {
		params := strings.Split(ext, ";")
		if strings.TrimSpace(params[0]) != "permessage-deflate" {
			continue
		}
		w.deflate, w.takeover = true, true
		for _, p := range params[1:] {
			if strings.TrimSpace(p) == "server_no_context_takeover" {
				w.takeover = false
			}
		}
	}
	return w
}

// feed reads p, the next bytes the provider sent to the client.
func (w *wsWatch) feed(p []byte) {
	for len(p) > 0 && !w.off {
		if w.skip > 0 {
			n := min(int64(len(p)), w.skip)
			w.skip -= n
			p = p[n:]
			continue
		}
		// The rest of this frame, at most: a frame's payload is bounded
		// below, and what follows is the next frame's.
		w.pend = append(w.pend, p...)
		p = nil
		w.frames()
	}
}

// frames reads the whole frames in pend.
func (w *wsWatch) frames() {
	for !w.off {
		r := bytes.NewReader(w.pend)
		h, err := ws.ReadHeader(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				w.stop()
			}
			return
		}
		head := len(w.pend) - r.Len()
		if h.Length > maxWSMessage {
			// Passed without being read; a compressed session cannot be
			// followed past it (its window would be lost).
			have := int64(len(w.pend) - head)
			w.skip = h.Length - min(have, h.Length)
			rest := w.pend[head+int(min(have, h.Length)):]
			w.pend = append(w.pend[:0], rest...)
			if h.OpCode == ws.OpText || h.OpCode == ws.OpBinary || h.OpCode == ws.OpContinuation {
				if w.deflate && w.takeover {
					w.stop()
					return
				}
				w.drop = !h.Fin
			}
			continue
		}
		if int64(len(w.pend)-head) < h.Length {
			return // the payload is still coming
		}
		payload := w.pend[head : head+int(h.Length)]
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		w.frame(h, payload)
		w.pend = append(w.pend[:0], w.pend[head+int(h.Length):]...)
	}
}

// frame takes one data frame's payload into its message.
func (w *wsWatch) frame(h ws.Header, payload []byte) {
	switch h.OpCode {
	case ws.OpText, ws.OpBinary:
		w.msg, w.drop = w.msg[:0], false
		w.msgText, w.msgDef = h.OpCode == ws.OpText, h.Rsv1()
	case ws.OpContinuation:
	default:
		return // control frames
	}
	if w.drop || len(w.msg)+len(payload) > maxWSMessage {
		if w.msgDef && w.takeover {
			w.stop()
			return
		}
		w.drop = true
	} else {
		w.msg = append(w.msg, payload...)
	}
	if !h.Fin || w.drop {
		return
	}
	data := w.msg
	if w.msgDef && w.deflate {
		var ok bool
		if data, ok = w.inflate(data); !ok {
			w.stop()
			return
		}
	}
	if w.msgText {
		w.event(data)
	}
}

// deflateTail ends a message's compressed data (RFC 7692 §7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflate decompresses one message with the provider's window.
func (w *wsWatch) inflate(data []byte) ([]byte, bool) {
	src := io.MultiReader(bytes.NewReader(data), bytes.NewReader(deflateTail))
	if w.fl == nil {
		w.fl = flate.NewReaderDict(src, w.window)
	} else if err := w.fl.(flate.Resetter).Reset(src, w.window); err != nil {
		return nil, false
	}
	w.out.Reset()
	_, err := io.Copy(&w.out, io.LimitReader(w.fl, 4*maxWSMessage))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, false
	}
	out := w.out.Bytes()
	if w.takeover {
		w.window = append(w.window, out...)
		if over := len(w.window) - 32<<10; over > 0 {
			w.window = append(w.window[:0], w.window[over:]...)
		}
	}
	return out, true
}

// event records the rate limits of a rate_limits.updated event.
func (w *wsWatch) event(data []byte) {
	if !bytes.Contains(data, []byte(`"rate_limits.updated"`)) {
		return
	}
	doc := gjson.Parse(b2s(data))
	if doc.Get("type").Str != "rate_limits.updated" {
		return
	}
	c, now := w.c, time.Now()
	res := &c.result
	res.Reset()
	for _, l := range doc.Get("rate_limits").Array() {
		var o parsers.Observation
		switch l.Get("name").Str {
		case "requests":
			o.Resource = parsers.Requests
		case "tokens":
			o.Resource = parsers.Tokens
		default:
			continue // a limit Headroom has no resource for
		}
		o.Window = "1m"
		if v, ok := eventNumber(l.Get("limit"), "rate_limits.limit", res); ok {
			o.Limit, o.HasLimit = v, true
		}
		if v, ok := eventNumber(l.Get("remaining"), "rate_limits.remaining", res); ok {
			o.Remaining, o.HasRemaining = v, true
		}
		if v, ok := eventNumber(l.Get("reset_seconds"), "rate_limits.reset_seconds", res); ok && v < 366*24*3600 {
			o.Reset = now.Add(time.Duration(v * float64(time.Second)))
		}
		if o.HasLimit || o.HasRemaining {
			if o.HasLimit && o.HasRemaining && o.Remaining > o.Limit {
				o.Remaining = o.Limit
			}
			res.Observations = append(res.Observations, o)
		}
	}
	c.info.Received = now
	c.info.Result = res
	c.p.rec.Answered(&c.info)
}

// eventNumber reads a non-negative finite number of an event; anything else
// present is a parse error, never a number.
func eventNumber(v gjson.Result, field string, res *parsers.Result) (float64, bool) {
	if !v.Exists() {
		return 0, false
	}
	if v.Type != gjson.Number || v.Num < 0 || v.Num > 1e15 {
		res.Errors = append(res.Errors, parsers.FieldError{Header: field, Value: clipValue(v.Raw), Err: parsers.ErrSyntax})
		return 0, false
	}
	return v.Num, true
}

func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return strings.Clone(s)
}

func (w *wsWatch) stop() {
	w.off = true
	w.pend, w.msg, w.window = nil, nil, nil
	w.c.p.log.Debug("realtime events: no longer read in this session (a compressed message too large, or not WebSocket)", "provider", w.c.info.Provider)
}
