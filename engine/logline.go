package engine

import "github.com/wsplex/wsplex/internal/logline"

// The log (line format, levels, queue) is package internal/logline. These
// aliases keep the engine's many log call sites (e.log.Log(LevelError, ...))
// as they are, and Config.Log and Config.LogLevel typed as before.
type (
	Logger = logline.Logger
	Level  = logline.Level
	Fields = logline.Fields
)

// The levels, from most to least verbose (logline.LevelDebug...).
const (
	LevelDebug  = logline.LevelDebug
	LevelTrace  = logline.LevelTrace
	LevelAccess = logline.LevelAccess
	LevelInfo   = logline.LevelInfo
	LevelError  = logline.LevelError
	LevelFatal  = logline.LevelFatal
	LevelNone   = logline.LevelNone
)
