//go:build tools

// Package websocketd pins websocketd v0.4.1, the goroutine-per-connection
// design wsplex is measured against. Build it with
// `go build -o ../../bin/websocketd github.com/joewalnes/websocketd`.
package websocketd

import _ "github.com/joewalnes/websocketd"
