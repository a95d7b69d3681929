//go:build !linux

package bench

// bindNoPort: IP_BIND_ADDRESS_NO_PORT is Linux's; elsewhere bind() takes a
// port at once.
func bindNoPort(fd int) {}
