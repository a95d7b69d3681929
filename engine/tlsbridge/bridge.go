// Package tlsbridge is TLS (--ssl) on a reactor that has no TLS.
//
// The loops only move bytes; crypto/tls needs a blocking net.Conn. So a TLS
// connection is terminated in Go and its plaintext handed to the reactor
// through a socketpair: one end is a socket watch on a loop like any
// accepted socket (the state machine cannot tell the difference), the other
// end is pumped to and from the tls.Conn by two goroutines with one 16 KiB
// buffer each. That is the price of wss: two goroutines, two buffers, a
// tls.Conn and two more fds per connection; plain ws connections pay
// nothing.
//
// Flow control still reaches the client's TCP socket:
//
//   - child slow to read: the engine's read pause (its pauseRead calls
//     Pause) tells the bridge to stop reading the client, as the TCP pause would. The paused
//     reader parks on the client socket and wakes only when resumed or when
//     the client hangs up, so a client that goes away is still noticed.
//   - client slow to read: tls.Conn.Write blocks, the bridge stops draining
//     the socketpair, the socketpair fills, and the connection's output
//     queue grows: the engine sees a slow client exactly as on plain TCP.
//
// Start with New (the socketpair, after the engine's handshake), then Run
// (the two pumps); Hangup, Pause and Resume are the engine's calls from its
// loop. LoadConfig (config.go) builds the tls.Config from --sslcert,
// --sslkey and --sslca.
package tlsbridge

import (
	"crypto/tls"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bridge is one TLS connection's pumps: the client's tls.Conn on one side,
// our end of the socketpair on the other.
type Bridge struct {
	tc   *tls.Conn
	raw  syscall.RawConn // the client's socket, for the read pause
	side *net.UnixConn   // our end of the socketpair

	mu      sync.Mutex
	paused  bool
	parked  bool // the reader waits in waitResumed
	writeDL atomic.Bool
}

const (
	// bridgeBuf is one TLS record of plaintext, the most one Read returns.
	bridgeBuf = 16 << 10
	// bridgeSockBuf caps each direction of the socketpair, which is
	// buffering on top of the engine's queues and the pumps' buffers.
	bridgeSockBuf = 64 << 10
	// Linger bounds how long the bridge keeps trying to deliver the
	// last bytes once the engine has closed its end (a client that stopped
	// reading would otherwise hold the goroutine forever).
	Linger = 5 * time.Second
	// FDs is what a TLS connection holds besides the loop's socket: the
	// client's socket and our end of the socketpair.
	FDs = 2
)

// New makes the socketpair for tc, whose handshake is done. The end
// returned, non-blocking, is for a loop (Engine.enroll): to the engine it
// is a socket like any other.
func New(tc *tls.Conn) (*Bridge, int, error) {
	sc, ok := tc.NetConn().(syscall.Conn)
	if !ok {
		return nil, -1, syscall.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, -1, err
	}
	// No SOCK_CLOEXEC on every platform: set it under ForkLock instead, so
	// no child started meanwhile inherits the pair.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, -1, err
	}
	for _, fd := range fds {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bridgeSockBuf)
	}
	ours, err := fileUnixConn(fds[0], "wsplex-tls")
	if err != nil {
		_ = unix.Close(fds[1])
		return nil, -1, err
	}
	if err := unix.SetNonblock(fds[1], true); err != nil {
		_ = ours.Close()
		_ = unix.Close(fds[1])
		return nil, -1, err
	}
	return &Bridge{tc: tc, raw: raw, side: ours}, fds[1], nil
}

// fileUnixConn wraps a socket fd as a *net.UnixConn (net.FileConn dups it,
// so the original is closed here).
func fileUnixConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		_ = c.Close()
		return nil, syscall.EINVAL
	}
	return uc, nil
}

// Run pumps both ways until both directions are done, then closes our end
// of the socketpair.
func (b *Bridge) Run() {
	done := make(chan struct{})
	go func() { b.toClient(); close(done) }()
	b.fromClient()
	<-done
	_ = b.side.Close()
}

// fromClient pumps client -> reactor. At the client's EOF (or any error)
// it half-closes the socketpair, which the loop sees as the client's EOF.
func (b *Bridge) fromClient() {
	buf := make([]byte, bridgeBuf)
	for {
		if err := b.waitResumed(); err != nil {
			break
		}
		n, err := b.tc.Read(buf)
		if n > 0 {
			if _, werr := b.side.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = b.side.CloseWrite()
}

// toClient pumps reactor -> client until the engine closes its end (or
// the client is gone), then closes the TLS connection: close_notify, FIN,
// and fromClient's Read returns.
func (b *Bridge) toClient() {
	buf := make([]byte, bridgeBuf)
	for {
		n, err := b.side.Read(buf)
		if n > 0 {
			if _, werr := b.tc.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = b.tc.Close()
}

// Hangup is the engine's socket closing (on its loop). What the bridge still
// has for the client gets Linger to go out.
func (b *Bridge) Hangup() {
	if b.writeDL.CompareAndSwap(false, true) {
		_ = b.tc.SetWriteDeadline(time.Now().Add(Linger))
	}
}

// Pause and Resume are the engine's read pause (on its loop): stop reading
// the client until the child has taken its input. They never block.
func (b *Bridge) Pause() {
	b.mu.Lock()
	b.paused = true
	b.mu.Unlock()
}

func (b *Bridge) Resume() {
	b.mu.Lock()
	b.paused = false
	if b.parked {
		// Wake the parked reader even if nothing new arrives: tls.Conn may
		// hold a record it has already read.
		_ = b.tc.NetConn().SetReadDeadline(time.Unix(1, 0))
	}
	b.mu.Unlock()
}

// waitResumed returns at once unless paused; paused, it parks on the
// client's socket without reading it until Resume, or until the client
// hangs up (then the rest is read and forwarded, and its EOF with it). An
// error means the socket is closed.
func (b *Bridge) waitResumed() error {
	b.mu.Lock()
	if !b.paused {
		b.mu.Unlock()
		return nil
	}
	b.parked = true
	b.mu.Unlock()
	err := b.raw.Read(func(fd uintptr) bool {
		b.mu.Lock()
		paused := b.paused
		b.mu.Unlock()
		return !paused || peerHungUp(int(fd))
	})
	b.mu.Lock()
	b.parked = false
	_ = b.tc.NetConn().SetReadDeadline(time.Time{})
	b.mu.Unlock()
	if err != nil && !os.IsTimeout(err) {
		return err
	}
	return nil
}
