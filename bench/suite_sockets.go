package bench

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The suite's jobs for socket backends (issue 13) and broadcast rooms
// (issue 14), each against the talk's recipe for the same thing on
// websocketd:
//
//	backend           100 connections, 16 messages in flight each, through
//	                  a TCP echo backend: wsplex --backend=tcp://HOST:PORT
//	                  against websocketd running `nc HOST PORT` per client.
//	backend-capacity  the capacity phases (memory, fds, goroutines and open
//	                  rate at held levels, and the most each can hold) for
//	                  the same two set-ups (--backend-levels).
//	room              --room-conns clients of one room at 10 lines/s: wsplex
//	                  --broadcast only (websocketd has no shared child).
//	room-ramp         --ramp-conns clients; the rate rises until delivery p99
//	                  passes 100 ms: wsplex only.
//	room-recipe       --recipe-conns clients at 10 lines/s: wsplex
//	                  --broadcast against websocketd + `nc` per client + a
//	                  Python chat relay (room_relay.py) that the producer is
//	                  one more client of.
//
// The producer is `wsbench room-child` in both cases (the room's COMMAND
// under wsplex, a relay client under the recipe), so the server side does
// the same work. The recipe's relay and producer are server-side processes:
// they are started inside the daemon's cgroups, so its CPU and memory
// figures count them as they count wsplex's child. The echo backend is the
// application behind both daemons and is left out of both.

//go:embed room_relay.py
var roomRelayPy []byte

// roomRate is the producer's rate in the room and room-recipe jobs.
const roomRate = 10

// roomLineSize is the size of a room line, without its newline.
const roomLineSize = 100

// roomRampRates are the room-ramp job's phases, in lines per second.
const roomRampRates = "10,20,35,50,75,100,150,200,300,500,1000"

func (s *suite) socketJobs() []job {
	d := s.c.dur
	room := func(n int, rates string) func() Scenario {
		return func() Scenario {
			return &RoomScenario{Clients: n, Concurrency: 100, Rates: rates, Limit: 100 * time.Millisecond, Drain: 3 * time.Second}
		}
	}
	// Two client loops for the backend job: with one, wsbench was the
	// limit (wsplex --backend at 160k msg/s used a third of a core).
	return []job{
		{name: "backend", sc: func() Scenario {
			return &ThroughputScenario{Conns: 100, Inflight: 16, Size: 64, Drain: 3 * time.Second}
		}, child: "echo-backend", dur: d, env: s.backendEnv, loops: 2},
		{name: "room", sc: room(s.c.roomConns, strconv.Itoa(roomRate)), child: "room-child", dur: 2 * d, loops: 2,
			env: func(spec *serverSpec) (*jobEnv, error) { return s.roomEnv(spec, false) }},
		{name: "room-ramp", sc: room(s.c.rampConns, roomRampRates), child: "room-child", dur: d, loops: 2,
			env: func(spec *serverSpec) (*jobEnv, error) { return s.roomEnv(spec, false) }},
		{name: "room-recipe", sc: room(s.c.recipeConns, strconv.Itoa(roomRate)), child: "room-child", dur: 2 * d, loops: 2,
			env: func(spec *serverSpec) (*jobEnv, error) { return s.roomEnv(spec, true) }},
	}
}

// capacityJob is one capacity measurement: the job's name, the child
// label its results are grouped by, the levels, and its set-up (nil: the
// child of that name).
type capacityJob struct {
	name, child, levels string
	env                 func(spec *serverSpec) (*jobEnv, error)
}

// isWsplex reports whether spec is a wsplex (not websocketd, nor
// websocketd standing in for a wsplex that could not be used).
func isWsplex(spec *serverSpec) bool { return spec.metrics && !spec.standIn }

// jobEnv is what a job needs around a daemon besides a child program.
type jobEnv struct {
	child []string // the daemon's COMMAND (nil: none, the flags say what to do)
	extra []string // daemon flags
	path  string   // URL path
	skip  string   // non-empty: this server does not run the job, and why
	notes []string // said in the job's results
	// helpers are stopped with the job; serverSide start once the
	// daemon runs, inside its cgroups (see started).
	helpers    []*helperProc
	serverSide []func(d *daemon) error
}

// started runs the server-side helpers now that the daemon has its cgroups.
func (e *jobEnv) started(d *daemon) error {
	for _, f := range e.serverSide {
		if err := f(d); err != nil {
			return err
		}
	}
	return nil
}

// stop ends the helpers, last started first; a second call does nothing.
// It must come before the daemon's stop, which removes the cgroups the
// server-side helpers are in.
func (e *jobEnv) stop() {
	for i := len(e.helpers) - 1; i >= 0; i-- {
		e.helpers[i].stop()
	}
	e.helpers = nil
}

// helperProc is a process a job runs next to the daemon (the echo backend,
// the chat relay, the producer), ended by the job.
type helperProc struct {
	lineProc
	name string
	port int
}

// startHelper starts argv with its stderr in the suite's raw/ directory.
// With wantPort it waits (bounded) for its first stdout line, "listening
// <port>". cgroups are directories the process joins before it execs (so
// all its memory is charged there): it is started through /bin/sh, which
// writes its own pid into each one's cgroup.procs first.
func (s *suite) startHelper(e *jobEnv, name string, argv []string, wantPort bool, cgroups ...string) (*helperProc, error) {
	s.n++
	lf, err := os.Create(filepath.Join(s.c.out, "raw", fmt.Sprintf("%03d-%s.log", s.n, name)))
	if err != nil {
		return nil, err
	}
	var script strings.Builder
	for _, dir := range cgroups {
		if dir != "" {
			fmt.Fprintf(&script, "echo $$ > %s || exit 1; ", shellQuote(filepath.Join(dir, "cgroup.procs")))
		}
	}
	if script.Len() > 0 {
		script.WriteString(`exec "$@"`)
		argv = append([]string{"/bin/sh", "-c", script.String(), name}, argv...)
	}
	h := &helperProc{name: name}
	h.cmd = exec.Command(argv[0], argv[1:]...)
	h.cmd.Stderr = lf
	first, err := h.start(func() { lf.Close() })
	if err != nil {
		lf.Close()
		return nil, err
	}
	e.helpers = append(e.helpers, h)
	if !wantPort {
		return h, nil
	}
	select {
	case line := <-first:
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "listening "); ok {
			if h.port, err = strconv.Atoi(v); err == nil {
				return h, nil
			}
		}
		return nil, fmt.Errorf("%s did not start (see %s): %q", name, lf.Name(), line)
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("%s did not say where it listens within 10 s (see %s)", name, lf.Name())
	}
}

// stop ends the helper: its stdin closes (the echo backend ends then),
// then SIGTERM, then SIGKILL.
func (h *helperProc) stop() {
	_ = h.stdin.Close()
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		if sig != 0 {
			_ = h.cmd.Process.Signal(sig)
		}
		select {
		case <-h.done:
			return
		case <-time.After(2 * time.Second):
		}
	}
	<-h.done
}

// ncPath is netcat (Debian's netcat-openbsd in CI), or an error saying
// how to get it.
func ncPath() (string, error) {
	p, err := exec.LookPath("nc")
	if err != nil {
		return "", errors.New("no nc: the websocketd recipe needs netcat (apt-get install netcat-openbsd)")
	}
	return p, nil
}

// backendEnv: an echo backend of its own for the run; wsplex bridges to it
// with --backend, websocketd runs nc per client.
func (s *suite) backendEnv(spec *serverSpec) (*jobEnv, error) {
	e := &jobEnv{}
	var nc string
	if !isWsplex(spec) {
		var err error
		if nc, err = ncPath(); err != nil {
			e.skip = fmt.Sprintf("%s left out: %v", spec.name, err)
			return e, nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := s.startHelper(e, "echo-backend", []string{exe, "echo-backend", "--listen=127.0.0.1:0"}, true)
	if err != nil {
		e.stop()
		return nil, err
	}
	if isWsplex(spec) {
		e.extra = []string{fmt.Sprintf("--backend=tcp://127.0.0.1:%d", b.port)}
	} else {
		e.child = []string{nc, "127.0.0.1", strconv.Itoa(b.port)}
		e.notes = append(e.notes, "websocketd runs `nc 127.0.0.1 PORT` per client (the talk's recipe); its CPU and memory include every nc")
	}
	return e, nil
}

// roomEnv: wsplex --broadcast runs room-child as the room's COMMAND; under
// the recipe websocketd runs nc per client to a chat relay, and room-child
// is a client of the relay. Without the recipe websocketd does not run the
// job (it has no child shared by clients).
func (s *suite) roomEnv(spec *serverSpec, recipe bool) (*jobEnv, error) {
	e := &jobEnv{path: "/room"}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	producer := []string{exe, "room-child", fmt.Sprintf("--rate=%d", roomRate), fmt.Sprintf("--size=%d", roomLineSize)}
	if isWsplex(spec) {
		e.extra = []string{"--broadcast"}
		e.child = producer
		return e, nil
	}
	if !recipe {
		e.skip = fmt.Sprintf("%s left out: it has no child shared by clients (its recipe is the room-recipe job, at fewer clients)", spec.name)
		return e, nil
	}
	nc, err := ncPath()
	if err != nil {
		e.skip = fmt.Sprintf("%s left out: %v", spec.name, err)
		return e, nil
	}
	py, ok := s.children["python"]
	if !ok {
		e.skip = fmt.Sprintf("%s left out: the chat relay needs python3", spec.name)
		return e, nil
	}
	relay := filepath.Join(s.c.out, "room_relay.py")
	if err := os.WriteFile(relay, roomRelayPy, 0o644); err != nil {
		return nil, err
	}
	port := freePort()
	e.child = []string{nc, "127.0.0.1", strconv.Itoa(port)}
	e.notes = append(e.notes, "websocketd runs `nc 127.0.0.1 PORT` per client to a Python asyncio chat relay (room_relay.py); the relay and the producer run in websocketd's cgroup, so its CPU and memory count them")
	e.serverSide = append(e.serverSide, func(d *daemon) error {
		if _, err := s.startHelper(e, "room-relay", []string{py[0], relay, strconv.Itoa(port)}, true, d.cgroup, cpuDirIfOwn(d)); err != nil {
			return err
		}
		_, err := s.startHelper(e, "room-producer", append(producer, fmt.Sprintf("--connect=127.0.0.1:%d", port)), false, d.cgroup, cpuDirIfOwn(d))
		return err
	})
	return e, nil
}

// cpuDirIfOwn is the daemon's CPU cgroup when it is not its memory cgroup
// (cgroup v1), "" otherwise.
func cpuDirIfOwn(d *daemon) string {
	if d.cpu != d.cgroup {
		return d.cpu
	}
	return ""
}

// prober reads the daemon's RSS, its cgroup's memory (every server
// process; -1 without a cgroup of its own) and its goroutines, for the
// room scenario's per-client costs.
func (s *suite) prober(d *daemon) func() ServerProbe {
	return func() ServerProbe {
		p := ServerProbe{RSS: -1, CgroupMem: -1, Goroutines: goroutines(d)}
		if ps, err := ReadProc(d.cmd.Process.Pid, false); err == nil {
			p.RSS = ps.RSS
		}
		if d.cgroup != "" {
			p.CgroupMem = cgroupMemory(d, d.cmd.Process.Pid)
		}
		return p
	}
}

// logHint points at the daemon's own words when it would not start (a
// wsplex without --backend or --broadcast refuses the flag).
func logHint(err error) string {
	const marker = "(see "
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(msg[i+len(marker):], ")")
	b, rerr := os.ReadFile(name)
	if rerr != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return ": " + strings.TrimSpace(lines[0])
}
