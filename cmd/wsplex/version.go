package main

import (
	"fmt"
	"runtime"
)

// Version is wsplex's version: the only place it is written. It appears in
// --version, --help, --license and in SERVER_SOFTWARE ("wsplex/" + Version).
const Version = "0.1.0"

// versionLine is what --version prints (and --license starts with). Like
// websocketd's it names the Go toolchain and platform, since behaviour such
// as the PATH lookup of COMMAND depends on them.
func versionLine() string {
	return fmt.Sprintf("wsplex %s (%s %s/%s) -- websocketd-compatible",
		Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
