//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package platform

import "golang.org/x/sys/unix"

// pausedRecvBuffer is the receive buffer a paused socket is pinned to. A
// pinned buffer is what makes the pause hold: with autotuning left on, the
// kernel grows the buffer to twice the low-water mark and the socket becomes
// readable again once that much has arrived. Pinned, the peer's window
// closes before the low-water mark is reached, so it blocks.
const pausedRecvBuffer = 128 << 10

// PauseRead stops the poller from reporting fd readable, so the reactor
// stops reading it and the peer is slowed by TCP flow control once the
// kernel's receive buffer is full. It sets SO_RCVLOWAT above anything the
// (pinned) receive buffer can hold. A FIN or an error still wakes the
// poller, so a peer that goes away is still noticed.
//
// It is for TCP sockets only: AF_UNIX stream sockets ignore SO_RCVLOWAT.
func PauseRead(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, pausedRecvBuffer); err != nil {
		return err
	}
	// The kernel caps the value at half the buffer on Linux; BSD refuses
	// values above the buffer, so ask for the buffer size itself there.
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, lowWaterPaused)
}

// ResumeRead undoes PauseRead: the socket is readable again from one byte.
// The receive buffer stays pinned; for one connection on loopback or a LAN
// that costs nothing measurable.
func ResumeRead(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, 1)
}
