package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsplex/wsplex/internal/logline"
)

// Signed, expiring URLs (--signed-urls).
//
// A browser cannot put an Authorization header on a WebSocket, so the web
// application that serves the page mints a time-limited URL instead:
//
//	/path?x=1&expires=1700000000&sig=BASE64URL(HMAC-SHA256(key, "/path?x=1&expires=1700000000"))
//
// sig is the last query parameter and signs everything before "&sig=": the
// path and every other parameter, expires included. The check runs first
// on an upgrade, before the origin checks, before --maxforks is charged and
// before anything is forked, so an unsigned client costs a hash, not a
// process.

// MinKeyLen is the shortest signing key accepted: HMAC-SHA256's output
// size, below which the key is the weak part.
const MinKeyLen = 32

// signingKeys is one reading of the key file. Verifying takes a MAC per
// key from the pool (hmac's Reset keeps the keyed state), so a check
// allocates nothing once the pool is warm.
type signingKeys struct {
	keys [][]byte
	pool sync.Pool // *macSet
}

type macSet struct {
	macs    []hash.Hash
	scratch []byte // the signed part of the target, as bytes for Write
	sum     [sha256.Size]byte
}

// LoadSigningKeys reads a key file: one key a line (a trailing "\r" is
// not part of it), blank lines skipped, each at least MinKeyLen bytes.
// warning is non-empty when the file is readable by group or others.
func LoadSigningKeys(path string) (keys [][]byte, warning string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if len(line) < MinKeyLen {
			return nil, "", fmt.Errorf("%s line %d: key of %d bytes, want at least %d", path, i+1, len(line), MinKeyLen)
		}
		keys = append(keys, bytes.Clone(line))
	}
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("%s: no key", path)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o044 != 0 {
		warning = fmt.Sprintf("signing key file %s is readable by group or others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	return keys, warning, nil
}

func newSigningKeys(keys [][]byte) *signingKeys {
	sk := &signingKeys{keys: keys}
	sk.pool.New = func() any {
		ms := &macSet{macs: make([]hash.Hash, len(keys)), scratch: make([]byte, 0, 256)}
		for i, k := range keys {
			ms.macs[i] = hmac.New(sha256.New, k)
		}
		return ms
	}
	return sk
}

// Sign returns target with expires and sig appended, signed with key.
func Sign(key []byte, target string, expires time.Time) string {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	signed := target + sep + "expires=" + strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return signed + "&sig=" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Why a signed-URL check failed; the text goes into the refusal's log
// line (never the key or the signature).
var (
	errNoSig      = errors.New("no sig parameter (it must be the last one)")
	errBadSig     = errors.New("signature does not match")
	errNoExpires  = errors.New("no valid expires parameter")
	errSigExpired = errors.New("signature expired")
)

// check verifies a request target: nil, errSigExpired (410) or another
// error (403). Every key is tried, and the MACs compared in constant time.
func (sk *signingKeys) check(target string, now time.Time) error {
	i := strings.LastIndex(target, "&sig=")
	if i < 0 || strings.IndexByte(target[i+5:], '&') >= 0 {
		return errNoSig
	}
	signed, enc := target[:i], target[i+5:]
	var sig [sha256.Size]byte
	if base64.RawURLEncoding.DecodedLen(len(enc)) != len(sig) {
		return errBadSig
	}
	ms := sk.pool.Get().(*macSet)
	defer sk.pool.Put(ms)
	ms.scratch = append(append(ms.scratch[:0], signed...), enc...)
	if n, err := base64.RawURLEncoding.Decode(sig[:], ms.scratch[len(signed):]); err != nil || n != len(sig) {
		return errBadSig
	}
	ok := 0
	for _, m := range ms.macs {
		m.Reset()
		m.Write(ms.scratch[:len(signed)])
		ok |= subtle.ConstantTimeCompare(m.Sum(ms.sum[:0]), sig[:])
	}
	if ok == 0 {
		return errBadSig
	}
	exp, found := queryParam(signed, "expires")
	if !found {
		return errNoExpires
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errNoExpires
	}
	if now.Unix() >= t {
		return errSigExpired
	}
	return nil
}

// queryParam returns the raw value of the first parameter called name in
// the query of target.
func queryParam(target, name string) (string, bool) {
	q := strings.IndexByte(target, '?')
	if q < 0 {
		return "", false
	}
	for rest := target[q+1:]; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// signer holds the keys in force; SIGHUP swaps them (ReloadKeys).
type signer struct {
	path string
	cur  atomic.Pointer[signingKeys]
}

// ReloadKeys re-reads the --signed-urls key file, as SIGHUP asks. A file
// that no longer reads or holds no valid key leaves the old keys in force.
func (e *Engine) ReloadKeys() {
	if e.signer == nil {
		return
	}
	keys, warning, err := LoadSigningKeys(e.signer.path)
	if err != nil {
		e.log.Log(logline.LevelError, "server", nil, "Signing keys not reloaded, the old ones stay in force: %v", err)
		return
	}
	if warning != "" {
		e.log.Log(logline.LevelError, "server", nil, "Warning: %s", warning)
	}
	e.signer.cur.Store(newSigningKeys(keys))
	e.log.Log(logline.LevelInfo, "server", nil, "Signing keys reloaded: %d in force", len(keys))
}

// watchSIGHUP reloads the keys on every SIGHUP until ctx is done.
func (e *Engine) watchSIGHUP(ctx context.Context) {
	if e.signer == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				e.ReloadKeys()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// initSigner loads the key file at startup.
func (e *Engine) initSigner() error {
	if e.cfg.SignedURLs == "" {
		return nil
	}
	keys, warning, err := LoadSigningKeys(e.cfg.SignedURLs)
	if err != nil {
		return err
	}
	if warning != "" {
		e.log.Log(logline.LevelError, "server", nil, "Warning: %s", warning)
	}
	e.signer = &signer{path: e.cfg.SignedURLs}
	e.signer.cur.Store(newSigningKeys(keys))
	return nil
}

// checkSigned is the first check of an upgrade with --signed-urls: it
// answers 403 or 410 and returns false when the target's signature does
// not allow the upgrade.
func (c *conn) checkSigned(target string) bool {
	e := c.e
	if e.signer == nil {
		return true
	}
	// The signature is a bearer token until it expires: no log line shows it.
	c.fields.URL = redactSig(c.fields.URL)
	err := e.signer.cur.Load().check(target, time.Now())
	if err == nil {
		return true
	}
	status, body := 403, "403 Forbidden\n"
	if err == errSigExpired {
		status, body = 410, "410 Gone: the signed URL has expired\n"
	}
	e.metrics.handshakeFail.WithLabelValues(itoa(status)).Inc()
	e.log.Log(logline.LevelAccess, "session", &c.fields, "Signed URL refused: %v", err)
	c.respondWith(status, e.httpHeaders(), body)
	return false
}

// redactSig replaces the value of a URL's sig parameter (the last one) by
// "REDACTED", for log lines.
func redactSig(url string) string {
	i := strings.LastIndex(url, "&sig=")
	if i < 0 {
		return url
	}
	rest := ""
	if j := strings.IndexByte(url[i+5:], '&'); j >= 0 {
		rest = url[i+5+j:]
	}
	return url[:i] + "&sig=REDACTED" + rest
}
