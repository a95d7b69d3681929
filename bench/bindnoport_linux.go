package bench

import "golang.org/x/sys/unix"

// bindNoPort asks the kernel to pick the source port at connect time, when it
// knows the full 4-tuple: with it, one source address can be reused towards
// different destinations and the ephemeral range is not consumed by bind().
func bindNoPort(fd int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}
