package bench

import (
	"sync"
	"time"
)

// ProcSample is one reading of the server process.
type ProcSample struct {
	T           float64 `json:"t_s"`
	CPU         float64 `json:"cpu_s"`          // user+system seconds of the process, cumulative
	ChildrenCPU float64 `json:"children_cpu_s"` // of its live children, cumulative
	RSS         int64   `json:"rss_bytes"`
	FDs         int     `json:"fds"`
	Threads     int     `json:"threads"`
	Children    int     `json:"children"`
	ChildrenPSS int64   `json:"children_pss_bytes"` // -1 when not read in this sample
	// CgroupCPU is the CPU time charged to the server's own cgroup, which
	// holds the daemon, its helper processes and every child, exited ones
	// included; -1 when the server has no cgroup of its own.
	CgroupCPU float64 `json:"cgroup_cpu_s"`
}

// ServerStats summarises the samples of one run.
type ServerStats struct {
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_s"`
	ChildrenCPU     float64 `json:"children_cpu_s"`
	RSSStart        int64   `json:"rss_start_bytes"`
	RSSPeak         int64   `json:"rss_peak_bytes"`
	RSSEnd          int64   `json:"rss_end_bytes"`
	FDsPeak         int     `json:"fds_peak"`
	ThreadsPeak     int     `json:"threads_peak"`
	ChildrenPeak    int     `json:"children_peak"`
	ChildrenPSSPeak int64   `json:"children_pss_peak_bytes"`
	// WholeCPU is the CPU time of the whole server over the run: from its
	// cgroup when it has one (CPUSource "cgroup": daemon, helpers and all
	// children, exited ones included), else the daemon's own CPU plus the
	// largest sum seen over its live descendants (CPUSource "proc", which
	// misses children that exit between samples).
	WholeCPU  float64      `json:"whole_cpu_s"`
	CPUSource string       `json:"cpu_source,omitempty"`
	Samples   []ProcSample `json:"samples,omitempty"`
	Err       string       `json:"error,omitempty"`
}

// Sampler reads /proc for a server pid at a fixed interval on one goroutine.
// Children's PSS is costly to read (one smaps_rollup per child), so it is
// read only every pssEvery samples and in the final one.
type Sampler struct {
	pid      int
	cgroup   string // cgroup directory charged with the server's CPU, "" if none
	start    time.Time
	interval time.Duration
	mu       sync.Mutex
	samples  []ProcSample
	stop     chan struct{}
	done     chan struct{}
	err      error
}

const pssEvery = 5

// StartSampler begins sampling pid; the first sample is taken before it
// returns, so a missing process is reported at once.
func StartSampler(pid int, interval time.Duration) (*Sampler, error) {
	return StartSamplerCgroup(pid, "", interval)
}

// StartSamplerCgroup is StartSampler that also reads the CPU time charged to
// cgroup (a cgroup v1 cpuacct or v2 directory holding the whole server), the
// only count that includes children which exited between two samples.
func StartSamplerCgroup(pid int, cgroup string, interval time.Duration) (*Sampler, error) {
	if interval <= 0 {
		interval = time.Second
	}
	s := &Sampler{pid: pid, cgroup: cgroup, start: time.Now(), interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	first, err := s.read(true)
	if err != nil {
		return nil, err
	}
	s.samples = append(s.samples, first)
	go s.run()
	return s, nil
}

func (s *Sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		p, err := s.read(n%pssEvery == 0)
		s.mu.Lock()
		if err != nil {
			s.err = err
			s.mu.Unlock()
			return
		}
		p.T = time.Since(s.start).Seconds()
		s.samples = append(s.samples, p)
		s.mu.Unlock()
	}
}

// SampleNow takes a full sample (children's PSS included) at once.
func (s *Sampler) SampleNow() {
	p, err := s.read(true)
	if err != nil {
		return
	}
	p.T = time.Since(s.start).Seconds()
	s.mu.Lock()
	s.samples = append(s.samples, p)
	s.mu.Unlock()
}

// Last returns the latest sample (for live progress).
func (s *Sampler) Last() ProcSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples[len(s.samples)-1]
}

// Stop takes a final full sample and summarises.
func (s *Sampler) Stop() *ServerStats {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, err := s.read(true); err == nil {
		p.T = time.Since(s.start).Seconds()
		s.samples = append(s.samples, p)
	} else if s.err == nil {
		s.err = err
	}
	return summarise(s.pid, s.samples, s.err)
}

// read takes one sample, the cgroup's CPU included.
func (s *Sampler) read(withPSS bool) (ProcSample, error) {
	p, err := readProc(s.pid, withPSS)
	p.CgroupCPU = cgroupCPU(s.cgroup)
	return p, err
}

func summarise(pid int, ss []ProcSample, err error) *ServerStats {
	st := &ServerStats{PID: pid, Samples: ss}
	if err != nil {
		st.Err = err.Error()
	}
	if len(ss) == 0 {
		return st
	}
	first, last := ss[0], ss[len(ss)-1]
	st.CPUSeconds = last.CPU - first.CPU
	st.RSSStart, st.RSSEnd = first.RSS, last.RSS
	for _, p := range ss {
		st.RSSPeak = max(st.RSSPeak, p.RSS)
		st.FDsPeak = max(st.FDsPeak, p.FDs)
		st.ThreadsPeak = max(st.ThreadsPeak, p.Threads)
		st.ChildrenPeak = max(st.ChildrenPeak, p.Children)
		st.ChildrenPSSPeak = max(st.ChildrenPSSPeak, p.ChildrenPSS)
		st.ChildrenCPU = max(st.ChildrenCPU, p.ChildrenCPU)
	}
	st.WholeCPU, st.CPUSource = st.CPUSeconds+st.ChildrenCPU, "proc"
	if first.CgroupCPU >= 0 && last.CgroupCPU > 0 && len(ss) > 1 {
		st.WholeCPU, st.CPUSource = last.CgroupCPU-first.CgroupCPU, "cgroup"
	}
	return st
}

// ReadProc takes one sample of pid (children's PSS included if withPSS).
func ReadProc(pid int, withPSS bool) (ProcSample, error) { return readProc(pid, withPSS) }
