//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package platform

// lowWaterPaused must not exceed the receive buffer on the BSDs.
const lowWaterPaused = pausedRecvBuffer
