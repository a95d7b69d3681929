package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

var (
	testKeyA = []byte(strings.Repeat("a", MinKeyLen))
	testKeyB = []byte("0123456789abcdef0123456789abcdef-rotated")
)

// TestSignedCheck covers the verdicts of check; the daemon's answers to
// them (403, 410, no child) are tested over sockets in cmd/wsplex.
func TestSignedCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	sk := newSigningKeys([][]byte{testKeyA, testKeyB})
	good := Sign(testKeyB, "/chat?room=1", now.Add(time.Minute))
	if !strings.HasPrefix(good, "/chat?room=1&expires=1800000060&sig=") {
		t.Fatalf("Sign = %q", good)
	}
	cases := []struct {
		target string
		want   error
	}{
		{good, nil},
		{Sign(testKeyA, "/", now.Add(time.Minute)), nil},
		{Sign(testKeyA, "/", now), errSigExpired},
		{Sign(testKeyA, "/", now.Add(-time.Hour)), errSigExpired},
		{Sign([]byte(strings.Repeat("z", 32)), "/", now.Add(time.Minute)), errBadSig},
		{strings.Replace(good, "room=1", "room=2", 1), errBadSig},
		{strings.Replace(good, "/chat", "/chat2", 1), errBadSig},
		{strings.Replace(good, "expires=1800000060", "expires=1800000061", 1), errBadSig},
		{good + "&x=1", errNoSig},
		{good[:len(good)-1], errBadSig},
		{good + "A", errBadSig},
		{"/chat?room=1", errNoSig},
		{"/chat?sig=" + good[strings.Index(good, "&sig=")+5:], errNoSig},
	}
	for _, tc := range cases {
		if got := sk.check(tc.target, now); got != tc.want {
			t.Errorf("check(%q) = %v, want %v", tc.target, got, tc.want)
		}
	}
	// A valid signature over a target without expires is still refused.
	noExp := signRaw(testKeyA, "/x?a=1")
	if got := sk.check(noExp, now); got != errNoExpires {
		t.Errorf("check(no expires) = %v, want %v", got, errNoExpires)
	}
}

// signRaw signs target as it is, without adding expires.
func signRaw(key []byte, target string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(target))
	return target + "&sig=" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestSignedCheckAllocs: a warm check allocates nothing, valid or not, so
// --signed-urls adds no allocation to the upgrade path.
func TestSignedCheckAllocs(t *testing.T) {
	if raceOn {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	now := time.Unix(1_800_000_000, 0)
	sk := newSigningKeys([][]byte{testKeyA, testKeyB})
	good := Sign(testKeyB, "/chat?room=1", now.Add(time.Minute))
	bad := strings.Replace(good, "room=1", "room=2", 1)
	for _, target := range []string{good, bad} {
		if a := testing.AllocsPerRun(200, func() { _ = sk.check(target, now) }); a != 0 {
			t.Errorf("check(%q) allocates %v times per run", target, a)
		}
	}
}

func BenchmarkSignedCheck(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	sk := newSigningKeys([][]byte{testKeyA, testKeyB})
	good := Sign(testKeyB, "/chat?room=1&user=someone", now.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if sk.check(good, now) != nil {
			b.Fatal("refused")
		}
	}
}
