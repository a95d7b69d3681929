package engine

import (
	"os"

	"github.com/wsplex/wsplex/spawn"
)

// startPrefork starts the --prefork pool: children of the single command,
// started ahead of their connections. Their own environment has only what
// does not depend on a connection (SERVER_SOFTWARE, --passenv) plus
// WSPLEX_PREFORK=1; the rest comes as their first line of input (spawn.Pool).
func (e *Engine) startPrefork() {
	if e.cfg.PreFork <= 0 || e.cfg.Command == "" {
		return
	}
	env := []string{"SERVER_SOFTWARE=" + cleanValue(e.cfg.ServerSoftware)}
	for _, name := range e.cfg.PassEnv {
		if v := os.Getenv(name); v != "" {
			env = append(env, name+"="+cleanValue(v))
		}
	}
	argv := append([]string{e.cfg.Command}, e.cfg.Args...)
	e.pool = e.spawner.NewPool(spawn.Spec{Path: e.cfg.Command, Args: argv, Env: env}, e.cfg.PreFork)
}

// startChild gives c a waiting child if the pool has one for this program,
// else starts one; childStarted follows, at once or, through the spawner
// process, once it has answered: the loop does not wait for the fork.
func (e *Engine) startChild(c *conn, spec spawn.Spec) {
	if e.cfg.PTY {
		c.childStarted(e.startPTY(c, spec))
		return
	}
	if e.pool != nil && spec.Path == e.cfg.Command {
		if p, ok := e.pool.Take(spec.Env, c); ok {
			c.childStarted(p, nil)
			return
		}
	}
	c.life = lifeStarting
	c.pauseInput()
	e.starts.Add(1)
	// The spawner's answer is read on c's loop (SpawnOn), and so is the
	// child's exit report later.
	e.spawner.SpawnOn(c.loop, spec, func(p *spawn.Process, err error) {
		e.handChild(c, p, err)
	})
}
