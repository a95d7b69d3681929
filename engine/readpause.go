package engine

import (
	"reflect"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsplex/wsplex/platform"
)

// gnet has no way to stop reading a connection: it reads whenever the fd
// is readable, into an unbounded buffer. So wsplex pauses a TCP client the
// only way that holds: it takes the read interest out of the event loop's
// epoll/kqueue set itself, and puts it back on resume.
//
// The loop's poller fd is unexported in gnet; it is found by reflection on
// the pinned gnet v2.10.0 (conn.loop.poller.fd). If the layout ever
// changes, pollerFD reports false and the pause degrades to the --inbuffer
// bound (1008), which TestFlowClientToChild and TestFlowClientHeldBack
// (cmd/wsplex/flow_test.go) would show.
//
// gnet itself re-enables reading when a write of its own hits EAGAIN
// (ModReadWrite) or drains (ModRead); OnTraffic then finds the connection
// paused and pauses it again, so such a leak costs one read at most.
func pollerFD(gc gnet.Conn) (int, bool) {
	v := reflect.ValueOf(gc)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return -1, false
	}
	loop := v.Elem().FieldByName("loop")
	if !loop.IsValid() || loop.Kind() != reflect.Pointer || loop.IsNil() {
		return -1, false
	}
	poller := loop.Elem().FieldByName("poller")
	if !poller.IsValid() || poller.Kind() != reflect.Pointer || poller.IsNil() {
		return -1, false
	}
	fd := poller.Elem().FieldByName("fd")
	if !fd.IsValid() || fd.Kind() != reflect.Int {
		return -1, false
	}
	return int(fd.Int()), true
}

// pauseTCP stops the loop from reading gc.
func pauseTCP(gc gnet.Conn) error {
	pfd, ok := pollerFD(gc)
	if !ok {
		return errNoPollerFD
	}
	return platform.PauseInPoller(pfd, gc.Fd(), gc.OutboundBuffered() > 0)
}

// resumeTCP lets the loop read gc again.
func resumeTCP(gc gnet.Conn) error {
	pfd, ok := pollerFD(gc)
	if !ok {
		return errNoPollerFD
	}
	return platform.ResumeInPoller(pfd, gc.Fd(), gc.OutboundBuffered() > 0)
}

type pauseError string

func (e pauseError) Error() string { return string(e) }

const errNoPollerFD = pauseError("gnet's poller fd not found: reads cannot be paused")
