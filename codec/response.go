package codec

import (
	"net/http"
	"strconv"
)

// AppendResponse appends a complete plain HTTP/1.1 response to dst: the
// status line, "Content-Type: text/plain; charset=utf-8", Content-Length,
// "Connection: close", the extra headers in order, a blank line and body.
// It is for the answers the engine gives by itself (400, 403, 404, 429, 431,
// 505 ...), after which it closes the connection.
//
// A CR or LF inside an extra header's name or value is written as a space,
// so that a header from the command line cannot split the response.
func AppendResponse(dst []byte, status int, extra []Header, body string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	if text := http.StatusText(status); text != "" {
		dst = append(dst, text...)
	} else {
		dst = append(dst, "status code "...)
		dst = strconv.AppendInt(dst, int64(status), 10)
	}
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nConnection: close\r\n"...)
	dst = appendHeaders(dst, extra)
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// appendHeaders appends "Name: Value\r\n" for each header.
func appendHeaders(dst []byte, hs []Header) []byte {
	for _, h := range hs {
		dst = AppendNoEOL(dst, h.Name)
		dst = append(dst, ": "...)
		dst = AppendNoEOL(dst, h.Value)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// AppendNoEOL appends s with each CR and LF turned into a space, so that a
// value cannot end the line it is written on (a header, an environment
// variable).
func AppendNoEOL(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
