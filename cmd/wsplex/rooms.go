package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/wsplex/wsplex/engine"
)

// roomOptions are the flags of rooms (issue 14): --broadcast and what
// shapes a room.
type roomOptions struct {
	broadcast bool
	linger    time.Duration
	queue     byteCount
	slow      string
	envelope  string
	roomMax   int
}

func defineRoomFlags(fs *flag.FlagSet, o *roomOptions) {
	o.queue = byteCount{n: engine.DefaultBroadcastQueue, min: 1}
	fs.BoolVar(&o.broadcast, "broadcast", false, "The clients of one URL path share one process (a room)")
	fs.DurationVar(&o.linger, "broadcast-linger", 0, "How long a room's process outlives its last client (e.g. 30s)")
	fs.Var(&o.queue, "broadcast-queue", "Bytes of a room's output a client may be behind before --slow applies")
	fs.StringVar(&o.slow, "slow", "close", "A room client too far behind: close (1008) or drop (skip to the newest messages)")
	fs.StringVar(&o.envelope, "envelope", "", "json: a room's process reads and writes JSON lines naming the clients")
	fs.IntVar(&o.roomMax, "room-max", 0, "Clients of one room; over it the upgrade gets 429 (0: no limit)")
}

// applyRoomFlags checks the room flags and puts them in cfg. It returns
// the message of a refused command line, or "".
func applyRoomFlags(o *options, fs *flag.FlagSet, cfg *engine.Config) string {
	r := &o.rooms
	if !r.broadcast {
		given := ""
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "broadcast-linger", "broadcast-queue", "slow", "envelope", "room-max":
				if given == "" {
					given = "--" + f.Name
				}
			}
		})
		if given != "" {
			return given + " only applies to rooms: add --broadcast."
		}
		return ""
	}
	switch {
	case o.pty:
		return "--broadcast cannot be used with --pty: a room's process is shared by its clients and has no terminal of theirs."
	case o.preFork > 0:
		return "--broadcast cannot be used with --prefork: a room starts its one process when its first client comes."
	case r.slow != "close" && r.slow != "drop":
		return fmt.Sprintf("Incorrect --slow '%s': close or drop.", r.slow)
	case r.envelope != "" && r.envelope != "json":
		return fmt.Sprintf("Incorrect --envelope '%s': the one envelope is json.", r.envelope)
	case r.envelope != "" && (o.binary || o.passStderr):
		return "--envelope=json cannot be used with --binary or --passstderr: the envelope is JSON lines (binary messages go base64 in data64)."
	case r.linger < 0:
		return "--broadcast-linger cannot be negative."
	case r.roomMax < 0:
		return "--room-max cannot be negative."
	}
	cfg.Broadcast = true
	cfg.BroadcastLinger = r.linger
	cfg.BroadcastQueue = clampInt(r.queue.n)
	cfg.SlowDrop = r.slow == "drop"
	cfg.Envelope = r.envelope
	cfg.RoomMax = r.roomMax
	return ""
}

// roomHelp is the rooms' part of --help.
const roomHelp = `
  --broadcast                    Rooms: the clients of one URL path (with
                                 --dir: one script and PATH_INFO) share one
                                 process, started with the first client
                                 (environment: ROOM=the path, no client
                                 variables). Each line it prints goes to every
                                 client; each client message is one line of
                                 its input, whole. Not with --pty or --prefork.

  --broadcast-linger=DURATION    How long a room's process outlives its last
                                 client (then stdin closed and the signals).
                                 Default: 0

  --broadcast-queue=BYTES        Room output a client may be behind before
                                 --slow applies. Default: 1048576

  --slow=close|drop              A client too far behind: closed with 1008
                                 "slow consumer", or skipped to the newest
                                 messages. The process never waits.
                                 Default: close

  --envelope=json                The room's process reads JSON lines (join,
                                 message, leave, with the client's id and
                                 variables) and writes {"data":..} to all,
                                 {"to":id,"data":..} to some, {"close":id}.

  --room-max=N                   Clients of one room; more get HTTP 429.
                                 Default: 0 (no limit)`
