package codec

import "bytes"

// CutLine returns the first line of p without its terminator ("\n" or
// "\r\n"), the bytes after the terminator, and whether a terminator was
// found. Without one it returns p, nil, false, like bytes.Cut. A "\r" that is
// not right before the "\n" stays in the line, as in websocketd.
//
// line and rest alias p; CutLine does not allocate.
func CutLine(p []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return p, nil, false
	}
	line, rest = p[:i], p[i+1:]
	if i > 0 && line[i-1] == '\r' {
		line = line[:i-1]
	}
	return line, rest, true
}

// TrimEOL strips one trailing "\n" or "\r\n" from p, like websocketd's
// trimEOL. A trailing "\r" alone stays.
func TrimEOL(p []byte) []byte {
	n := len(p)
	if n > 0 && p[n-1] == '\n' {
		n--
		if n > 0 && p[n-1] == '\r' {
			n--
		}
	}
	return p[:n]
}
