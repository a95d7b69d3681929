package logline

import (
	"fmt"
	"strconv"
)

// Level is the severity of a log line. The order, the names and the meaning
// of "minimum level" are websocketd's (libwebsocketd/logscope.go), so that
// --loglevel filters exactly the same lines.
type Level int

// Log levels, from most to least verbose. LevelNone is only meaningful as a
// minimum level: it disables logging entirely (websocketd's --loglevel=none).
const (
	LevelDebug Level = iota
	LevelTrace
	LevelAccess
	LevelInfo
	LevelError
	LevelFatal
	LevelNone
)

// levelNames are the names printed in the second column of a log line.
// websocketd pads them with %-6s; "ACCESS" is the longest and fills it.
var levelNames = [...]string{
	LevelDebug:  "DEBUG",
	LevelTrace:  "TRACE",
	LevelAccess: "ACCESS",
	LevelInfo:   "INFO",
	LevelError:  "ERROR",
	LevelFatal:  "FATAL",
	LevelNone:   "NONE",
}

// ParseLevel parses a --loglevel value. Like websocketd it is case-sensitive
// and accepts only the lower-case names, so a command line that websocketd
// rejects is rejected here too.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "debug":
		return LevelDebug, nil
	case "trace":
		return LevelTrace, nil
	case "access":
		return LevelAccess, nil
	case "info":
		return LevelInfo, nil
	case "error":
		return LevelError, nil
	case "fatal":
		return LevelFatal, nil
	case "none":
		return LevelNone, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, trace, access, info, error, fatal or none)", s)
}

// String returns the upper-case name as it appears in a log line ("ACCESS").
func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}
