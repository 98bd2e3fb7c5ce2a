package proxy

import "errors"

// bodyFraming finds where an HTTP/1.1 message body ends in the raw bytes
// the relay passes through unchanged, and hands the decoded payload to a
// sink (the usage sniffer, a 429 body buffer). Chunked bodies are relayed
// with their chunk framing intact: decoding is only for observation and for
// knowing when the message is over.
type bodyFraming struct {
	mode   framingMode
	remain int64 // modeLength: bytes left; modeChunked: bytes left in the chunk
	cs     chunkState
	size   int64 // chunk size being read
	digits int
}

type framingMode uint8

const (
	modeNone    framingMode = iota // no body (HEAD, 204, 304) or Content-Length 0
	modeLength                     // Content-Length
	modeChunked                    // Transfer-Encoding: chunked
	modeClose                      // delimited by the upstream closing the connection
)

type chunkState uint8

const (
	csSize          chunkState = iota // hex digits of the chunk size
	csExt                             // chunk extension, up to the line end
	csSizeLF                          // LF after the size line's CR
	csData                            // chunk payload
	csDataCR                          // CR after the payload
	csDataLF                          // LF after the payload
	csTrailer                         // start of a trailer line (or the final empty line)
	csTrailerLine                     // inside a trailer field line
	csTrailerLF                       // LF of the final empty line
	csTrailerLineLF                   // LF of a trailer field line
)

var errBadChunk = errors.New("proxy: malformed chunked encoding from upstream")

// maxChunkSizeDigits keeps chunk sizes within int64 (15 hex digits).
const maxChunkSizeDigits = 15

// done reports whether the body is complete.
func (f *bodyFraming) done() bool {
	switch f.mode {
	case modeNone:
		return true
	case modeLength:
		return f.remain == 0
	}
	return false
}

// take consumes raw bytes from the start of p that belong to the body and
// returns how many; data receives each decoded payload piece. When the body
// ends inside p, n < len(p) is possible: the rest is not part of this
// message.
func (f *bodyFraming) take(p []byte, data func([]byte)) (n int, err error) {
	switch f.mode {
	case modeNone:
		return 0, nil
	case modeLength:
		n = int(min(int64(len(p)), f.remain))
		f.remain -= int64(n)
		if n > 0 && data != nil {
			data(p[:n])
		}
		return n, nil
	case modeClose:
		if data != nil && len(p) > 0 {
			data(p)
		}
		return len(p), nil
	}
	for n < len(p) && f.mode == modeChunked {
		c := p[n]
		switch f.cs {
		case csSize:
			if h, ok := unhex(c); ok {
				if f.digits++; f.digits > maxChunkSizeDigits {
					return n, errBadChunk
				}
				f.size = f.size<<4 | int64(h)
				n++
				continue
			}
			if f.digits == 0 {
				return n, errBadChunk
			}
			switch c {
			case '\r':
				f.cs = csSizeLF
			case '\n':
				f.endSizeLine()
			case ';', ' ', '\t':
				f.cs = csExt
			default:
				return n, errBadChunk
			}
			n++
		case csExt:
			switch c {
			case '\r':
				f.cs = csSizeLF
			case '\n':
				f.endSizeLine()
			}
			n++
		case csSizeLF:
			if c != '\n' {
				return n, errBadChunk
			}
			f.endSizeLine()
			n++
		case csData:
			k := int(min(int64(len(p)-n), f.remain))
			if data != nil {
				data(p[n : n+k])
			}
			f.remain -= int64(k)
			n += k
			if f.remain == 0 {
				f.cs = csDataCR
			}
		case csDataCR:
			switch c {
			case '\r':
				f.cs = csDataLF
			case '\n':
				f.cs = csSize
			default:
				return n, errBadChunk
			}
			n++
		case csDataLF:
			if c != '\n' {
				return n, errBadChunk
			}
			f.cs = csSize
			n++
		case csTrailer:
			switch c {
			case '\r':
				f.cs = csTrailerLF
			case '\n':
				f.mode = modeNone // the final empty line: the body is complete
			default:
				f.cs = csTrailerLine
			}
			n++
		case csTrailerLF:
			if c != '\n' {
				return n, errBadChunk
			}
			f.mode = modeNone
			n++
		case csTrailerLine:
			switch c {
			case '\r':
				f.cs = csTrailerLineLF
			case '\n':
				f.cs = csTrailer
			}
			n++
		case csTrailerLineLF:
			if c != '\n' {
				return n, errBadChunk
			}
			f.cs = csTrailer
			n++
		}
	}
	return n, nil
}

func (f *bodyFraming) endSizeLine() {
	if f.size == 0 {
		f.cs = csTrailer
	} else {
		f.remain, f.cs = f.size, csData
	}
	f.size, f.digits = 0, 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
