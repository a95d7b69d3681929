package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// faults configures the in-process test server. It is a goroutine-per-
// connection echo server (net/http request parsing, gobwas/ws frames) that
// can misbehave on purpose.
type faults struct {
	drop     int           // drop the n-th message of each connection (1-based; 0: none)
	swap     int           // swap the n-th and n+1-th messages (1-based; 0: none)
	delay    time.Duration // echo each message this long after it arrived
	late     time.Duration // echo a connection's first message this long after it arrived (a child starting)
	greeting string        // a text frame written in the same write as the 101
	reject   int           // answer the upgrade with this status instead of 101
	binary   bool          // echo as a byte stream: re-cut into 7-byte-odd chunks
	hub      bool          // broadcast every message to every connection
}

type testServer struct {
	URL string
	ln  net.Listener
	f   faults
	mu  sync.Mutex
	all map[net.Conn]*sync.Mutex
	wg  sync.WaitGroup
}

func startServer(t testing.TB, f faults) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, f)
}

// startServerOn is startServer on a listener of the caller's.
func startServerOn(t testing.TB, ln net.Listener, f faults) *testServer {
	s := &testServer{URL: "ws://" + ln.Addr().String() + "/", ln: ln, f: f, all: map[net.Conn]*sync.Mutex{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.all {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if s.f.reject != 0 {
		body := "go away: test server refuses"
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s", s.f.reject, http.StatusText(s.f.reject), len(body), body)
		return
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptFor(key) + "\r\n\r\n"
	out := []byte(resp)
	if s.f.greeting != "" {
		// Same write, so the same TCP segment on loopback: the client
		// must not lose it while parsing the 101.
		out = append(out, ws.MustCompileFrame(ws.NewTextFrame([]byte(s.f.greeting)))...)
	}
	wmu := &sync.Mutex{}
	s.mu.Lock()
	s.all[c] = wmu
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.all, c)
		s.mu.Unlock()
	}()
	if _, err := c.Write(out); err != nil {
		return
	}
	type msg struct {
		op   ws.OpCode
		data []byte
		at   time.Time
	}
	// A small queue: when the client stops reading, the writer blocks, the
	// queue fills and the reader stops reading, which is flow control.
	q := make(chan msg, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held *msg
		n := 0
		for m := range q {
			n++
			if s.f.delay > 0 {
				time.Sleep(time.Until(m.at.Add(s.f.delay)))
			}
			if n == 1 && s.f.late > 0 {
				time.Sleep(time.Until(m.at.Add(s.f.late)))
			}
			switch {
			case n == s.f.drop:
				continue
			case n == s.f.swap:
				mm := m
				held = &mm
				continue
			}
			s.write(c, wmu, m.op, m.data)
			if held != nil {
				s.write(c, wmu, held.op, held.data)
				held = nil
			}
		}
	}()
	rd := io.Reader(br)
	for {
		data, op, err := wsutil.ReadClientData(struct {
			io.Reader
			io.Writer
		}{rd, c})
		if err != nil {
			break
		}
		q <- msg{op, data, time.Now()}
	}
	close(q)
	<-done
}

var chunkSizes = []int{7, 1, 300, 13, 4096, 2}

func (s *testServer) write(c net.Conn, wmu *sync.Mutex, op ws.OpCode, data []byte) {
	if s.f.hub {
		s.mu.Lock()
		defer s.mu.Unlock()
		for cc, mu := range s.all {
			mu.Lock()
			wsutil.WriteServerMessage(cc, op, data)
			mu.Unlock()
		}
		return
	}
	wmu.Lock()
	defer wmu.Unlock()
	if s.f.binary {
		// A byte-stream echo, like websocketd --binary: message boundaries
		// are whatever the reads happened to return.
		for i := 0; len(data) > 0; i++ {
			n := min(chunkSizes[i%len(chunkSizes)], len(data))
			wsutil.WriteServerMessage(c, ws.OpBinary, data[:n])
			data = data[n:]
		}
		return
	}
	wsutil.WriteServerMessage(c, op, data)
}
