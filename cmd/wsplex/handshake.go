package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsplex/wsplex/engine"
)

// handshakeOptions are the flags of the opening handshake (issue 12):
// subprotocols, signed URLs, the PROXY protocol and trusted proxies.
type handshakeOptions struct {
	subprotocols listFlag
	protoDir     string
	signedURLs   string
	proxyProto   listFlag
	trustedProxy listFlag
}

func defineHandshakeFlags(fs *flag.FlagSet, o *handshakeOptions) {
	fs.Var(&o.subprotocols, "subprotocol", "Subprotocols the server speaks (comma list; repeatable); default: answer the client's first offer")
	fs.StringVar(&o.protoDir, "protodir", "", "Run DIR/<subprotocol> for each upgrade (DIR/default without an offer) instead of COMMAND")
	fs.Var(&o.proxyProto, "proxy-protocol", "Connections from these networks (CIDR[,CIDR...]) start with a PROXY protocol header; repeatable")
	fs.Var(&o.trustedProxy, "trusted-proxy", "From these networks (CIDR[,CIDR...]) REMOTE_ADDR comes from X-Forwarded-For; repeatable")
	fs.StringVar(&o.signedURLs, "signed-urls", "", "Upgrades need an unexpired HMAC-SHA256 signature made with a key of this file")
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
	var err error
	if cfg.ProxyProtocol, err = parsePrefixes(h.proxyProto); err != nil {
		return "Incorrect --proxy-protocol: " + err.Error()
	}
	if cfg.TrustedProxies, err = parsePrefixes(h.trustedProxy); err != nil {
		return "Incorrect --trusted-proxy: " + err.Error()
	}
	if h.signedURLs != "" {
		if _, _, err := engine.LoadSigningKeys(h.signedURLs); err != nil {
			return "Could not use --signed-urls: " + err.Error()
		}
		cfg.SignedURLs = h.signedURLs
	}
	return ""
}

// parsePrefixes reads comma lists of networks ("10.0.0.0/8", "::1/128");
// a bare address is a network of one.
func parsePrefixes(lists []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, l := range lists {
		for _, item := range splitList(l) {
			if !strings.Contains(item, "/") {
				a, err := netip.ParseAddr(item)
				if err != nil {
					return nil, fmt.Errorf("%q is neither an address nor a CIDR network", item)
				}
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR network", item)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// runSign is "wsplex sign --signed-urls=KEYFILE [--ttl=DURATION] TARGET":
// it prints TARGET with expires and sig appended, signed with the file's
// first key, for scripts and tests.
func runSign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsplex sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("signed-urls", "", "key file (the daemon's --signed-urls)")
	ttl := fs.Duration("ttl", 5*time.Minute, "how long the URL is valid; negative for one already expired")
	usage := func() {
		fmt.Fprintln(stderr, "Usage: wsplex sign --signed-urls=KEYFILE [--ttl=5m] '/path?x=1'")
	}
	fs.Usage = usage
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *keyFile == "" || fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "/") {
		usage()
		return exitUsage
	}
	keys, _, err := engine.LoadSigningKeys(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "wsplex sign: %v\n", err)
		return exitInvalid
	}
	fmt.Fprintln(stdout, engine.Sign(keys[0], fs.Arg(0), time.Now().Add(*ttl)))
	return exitOK
}

// handshakeHelp is the part of --help for the flags of signed URLs and of
// running behind a proxy.
const handshakeHelp = `
  --proxy-protocol=CIDR[,CIDR...]
                                 Connections from these networks (repeatable;
                                 a bare address is one host) must start with
                                 a PROXY protocol header, v1 or v2 (HAProxy's
                                 send-proxy-v2, AWS NLB); REMOTE_ADDR and
                                 REMOTE_PORT are the client it names. Other
                                 sources may not send one. With --ssl the
                                 header comes before the TLS handshake.

  --trusted-proxy=CIDR[,CIDR...] From these peers (repeatable), REMOTE_ADDR is
                                 the rightmost X-Forwarded-For address not
                                 itself in the list (REMOTE_PORT is then
                                 empty), as nginx's realip does.

  --signed-urls=KEYFILE          Every WebSocket upgrade must carry
                                 expires=UNIXTIME and, last, sig=BASE64URL of
                                 HMAC-SHA256(key, the target before "&sig="),
                                 with one of the keys in KEYFILE (one a line,
                                 32 bytes or more; re-read on SIGHUP). Missing
                                 or wrong: HTTP 403; expired: HTTP 410; checked
                                 before anything else, no process started.
                                 Sign with: wsplex sign --signed-urls=KEYFILE
                                 [--ttl=5m] '/path?x=1'
`
