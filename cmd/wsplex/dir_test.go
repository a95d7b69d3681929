package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirTree lays out root/dir (served with --dir) and, outside it, a script
// that leaves a marker file when it runs, reachable from inside only through
// symlinks.
func dirTree(t *testing.T) (root, dir, marker string) {
	root = t.TempDir()
	dir = filepath.Join(root, "dir")
	marker = filepath.Join(root, "RAN")
	env := "#!/bin/sh\n" +
		"echo \"SCRIPT_NAME=$SCRIPT_NAME\"\n" +
		"echo \"PATH_INFO=$PATH_INFO\"\n" +
		"echo \"PATH_TRANSLATED=$PATH_TRANSLATED\"\n" +
		"echo \"ARGV0=$0\"\n" +
		"echo \"ARGC=$#\"\n"
	writeFile(t, filepath.Join(dir, "sub", "env.sh"), env, 0o755)
	writeFile(t, filepath.Join(dir, "top.sh"), env, 0o755)
	writeFile(t, filepath.Join(dir, "empty", ".keep"), "", 0o644)
	out := "#!/bin/sh\ntouch '" + marker + "'\necho OUTSIDE\n"
	writeFile(t, filepath.Join(root, "outside.txt"), out, 0o755)
	symlink(t, filepath.Join(root, "outside.txt"), filepath.Join(dir, "link-out"))
	symlink(t, root, filepath.Join(dir, "dir-out"))
	symlink(t, "top.sh", filepath.Join(dir, "link-in.sh"))
	return root, dir, marker
}

func TestDirRouting(t *testing.T) {
	_, dir, marker := dirTree(t)
	d := startDaemon(t, "--dir="+dir)
	d.waitLog(t, "Serving from directory", waitTimeout)

	for _, tt := range []struct {
		path, script, scriptName, pathInfo, translated string
	}{
		{"/sub/env.sh/extra/p", "sub/env.sh", "/sub/env.sh", "/extra/p", "/sub/env.sh/extra/p"},
		{"/sub/env.sh", "sub/env.sh", "/sub/env.sh", "", "/sub/env.sh"},
		{"/top.sh/a%20b?q=1", "top.sh", "/top.sh", "/a b", "/top.sh/a b"},
		{"/link-in.sh/x", "link-in.sh", "/link-in.sh", "/x", "/link-in.sh/x"},
	} {
		c := dialWS(t, d.url(tt.path))
		for _, want := range []string{
			"SCRIPT_NAME=" + tt.scriptName,
			"PATH_INFO=" + tt.pathInfo,
			"PATH_TRANSLATED=" + tt.translated,
			"ARGV0=" + filepath.Join(dir, tt.script),
			"ARGC=0",
		} {
			c.expectText(t, want)
		}
		c.readClose(t, waitTimeout)
	}

	for _, target := range []string{"/", "/nope", "/sub", "/sub/", "/empty", "/empty/x/..", "/sub/nope.sh"} {
		r := rawRequest(t, d.addr, "GET", target, "", upgradeHeaders...)
		if r.Status != 404 || r.Body != "404 Not Found\n" {
			t.Errorf("upgrade %s: %d %q, want 404 \"404 Not Found\\n\"", target, r.Status, r.Body)
		}
	}
	d.waitLog(t, "NOT FOUND: script not found", waitTimeout)

	for _, target := range traversalTargets("outside.txt") {
		if r := rawRequest(t, d.addr, "GET", target, "", upgradeHeaders...); r.Status != 404 {
			t.Errorf("upgrade %s: %d %q, want 404", target, r.Status, r.Body)
		}
	}
	// Plain HTTP in --dir mode is still 404, and nothing ran.
	if r := rawRequest(t, d.addr, "GET", "/sub/env.sh", ""); r.Status != 404 || r.Body != "404 page not found\n" {
		t.Errorf("plain GET of a script: %d %q", r.Status, r.Body)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the script outside --dir ran")
	}
	if strings.Contains(d.log.String(), "OUTSIDE") {
		t.Fatalf("the script outside --dir ran:\n%s", d.log)
	}
}
