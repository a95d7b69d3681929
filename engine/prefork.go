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
