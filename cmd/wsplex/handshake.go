package main

import (
	"flag"
	"path/filepath"

	"github.com/wsplex/wsplex/engine"
)

// handshakeOptions are the flags of the opening handshake (issue 12):
// subprotocols, signed URLs, the PROXY protocol and trusted proxies.
type handshakeOptions struct {
	subprotocols listFlag
	protoDir     string
}

func defineHandshakeFlags(fs *flag.FlagSet, o *handshakeOptions) {
	fs.Var(&o.subprotocols, "subprotocol", "Subprotocols the server speaks (comma list; repeatable); default: answer the client's first offer")
	fs.StringVar(&o.protoDir, "protodir", "", "Run DIR/<subprotocol> for each upgrade (DIR/default without an offer) instead of COMMAND")
}

// applyHandshakeFlags checks the handshake flags and puts them in cfg. It
// returns the message of a refused command line, or "".
func applyHandshakeFlags(o *options, haveCommand bool, cfg *engine.Config) string {
	h := &o.hs
	for _, l := range h.subprotocols {
		cfg.Subprotocols = append(cfg.Subprotocols, splitList(l)...)
	}
	if h.protoDir != "" {
		switch {
		case haveCommand:
			return "Ambiguous. Provided COMMAND and --protodir argument. Please only specify just one."
		case o.dir != "":
			return "Ambiguous. Provided --dir and --protodir argument. Please only specify just one."
		case len(cfg.Subprotocols) > 0:
			return "--subprotocol cannot be used with --protodir: the programs in the directory name the subprotocols."
		case o.preFork > 0:
			return "--prefork cannot be used with --protodir: which program a connection runs is known only from its handshake."
		}
		dir, err := filepath.Abs(h.protoDir)
		if err != nil || !isDir(dir) {
			return "Your protocol dir '" + h.protoDir + "' is not pointing to an accessible directory."
		}
		cfg.ProtoDir = dir
	}
	return ""
}


// handshakeHelp is the part of --help for the flags of signed URLs and of
// running behind a proxy.
const handshakeHelp = ``
