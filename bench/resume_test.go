package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildWsplex builds cmd/wsplex into a temporary directory.
func buildWsplex(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build cmd/wsplex")
	}
	bin := filepath.Join(t.TempDir(), "wsplex")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/wsplex/wsplex/cmd/wsplex").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/wsplex: %v\n%s", err, out)
	}
	return bin
}

// The resume scenario against the real wsplex running the real child (this
// test binary as `wsbench resume-child`): every cycle pauses the child (its
// threads show a blocked pipe write), drains a backlog and measures a resume
// no later than the first new line's arrival.
func TestResumeAgainstWsplex(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the resume scenario reads the child's /proc")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	url := startWsplex(t, exe, "resume-child")
	const cycles = 3
	res := runScenario(t, &ResumeScenario{Cycles: cycles, Quiet: 50 * time.Millisecond, RcvBuf: 64 << 10}, testOptions(t, url, 0))
	if !res.OK || res.Extra["cycles_done"] != cycles {
		t.Fatalf("not OK: cycles %v, msgs %+v, notes %v, errors %v", res.Extra["cycles_done"], res.Msgs, res.Notes, res.ErrorSamples)
	}
	rs, ar := res.Latency["resume"], res.Latency["arrival"]
	if rs == nil || ar == nil || rs.Count != cycles || ar.Count != cycles {
		t.Fatalf("resume %+v arrival %+v: want %d samples each", rs, ar, cycles)
	}
	if rs.Min <= 0 || rs.Max > ar.Max {
		t.Errorf("resume [%.3f, %.3f] ms, arrival max %.3f ms: a resume is after the drain began and before its line arrived", rs.Min, rs.Max, ar.Max)
	}
	if res.Extra["backlog_kib_median"] < 64 {
		t.Errorf("backlog %.1f KiB before the first new line: the child was not paused behind full buffers", res.Extra["backlog_kib_median"])
	}
	if !strings.Contains(strings.Join(res.Notes, " "), "pipe_write") {
		t.Errorf("notes %q: the paused child was expected to wait in pipe_write", res.Notes)
	}
}
