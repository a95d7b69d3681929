//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clkTck is USER_HZ, 100 on every Linux architecture Go supports; reading it
// with sysconf would need cgo.
const clkTck = 100

func readProc(pid int, withPSS bool) (ProcSample, error) {
	var p ProcSample
	cpu, threads, err := statCPU(pid)
	if err != nil {
		return p, fmt.Errorf("server pid %d: %v", pid, err)
	}
	p.CPU, p.Threads = cpu, threads
	p.RSS = statusKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:") * 1024
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		p.FDs = len(ents)
	}
	kids := descendants(pid) // through wsplex's spawner process to the children it forks
	p.Children = len(kids)
	p.ChildrenPSS = -1
	if withPSS {
		p.ChildrenPSS = 0
	}
	for _, k := range kids {
		if c, _, err := statCPU(k); err == nil {
			p.ChildrenCPU += c
		}
		if withPSS {
			p.ChildrenPSS += statusKB(fmt.Sprintf("/proc/%d/smaps_rollup", k), "Pss:") * 1024
		}
	}
	return p, nil
}

// statCPU returns utime+stime in seconds and the thread count.
func statCPU(pid int) (float64, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("unparsable /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
	if len(f) < 18 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	th, _ := strconv.Atoi(f[17])
	return (ut + st) / clkTck, th, nil
}

func statusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key) {
			fs := strings.Fields(line[len(key):])
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// children lists pid's direct children from /proc/PID/task/*/children.
// descendants lists pid's children, their children, and so on.
func descendants(pid int) []int {
	var out []int
	for next := children(pid); len(next) > 0; {
		out = append(out, next...)
		var deeper []int
		for _, k := range next {
			deeper = append(deeper, children(k)...)
		}
		next = deeper
	}
	return out
}

func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				out = append(out, k)
			}
		}
	}
	return out
}

// joinCgroup moves what the daemon started before it was moved itself (wsplex's
// spawner process, which forks the children) into its cgroup, so that the
// children's memory is counted there too.
func joinCgroup(dir string, pid int) {
	if dir == "" {
		return
	}
	for _, k := range descendants(pid) {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(k)), 0o644)
	}
}

// cgroupCPU reads the CPU seconds charged to a cgroup directory: cgroup v1
// cpuacct.usage (nanoseconds) or v2 cpu.stat usage_usec; -1 if dir is "" or
// unreadable.
func cgroupCPU(dir string) float64 {
	if dir == "" {
		return -1
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage")); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return float64(v) / 1e9
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cpu.stat")); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if f := strings.Fields(ln); len(f) == 2 && f[0] == "usage_usec" {
				if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return float64(v) / 1e6
				}
			}
		}
	}
	return -1
}
