package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTermAssetsPinned: the embedded xterm.js files are the npm packages
// pinned in term/package-lock.json. Each package's own package.json (a
// vendored file) names the pinned version, and every embedded file matches
// the checksum recorded in term/SHA256SUMS, with nothing unrecorded. A
// hand edit, a partial refresh, or a version bump without `make
// term-assets` fails here.
func TestTermAssetsPinned(t *testing.T) {
	lockJSON, err := os.ReadFile("term/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version, License string }
	}
	if err := json.Unmarshal(lockJSON, &lock); err != nil {
		t.Fatal(err)
	}
	for _, p := range termPackages {
		name, version, err := termPackageInfo(p.dir)
		if err != nil {
			t.Fatalf("%s: %v", p.dir, err)
		}
		pin, ok := lock.Packages["node_modules/"+name]
		if !ok {
			t.Errorf("%s: %s is not in package-lock.json", p.dir, name)
			continue
		}
		if version != pin.Version {
			t.Errorf("%s: embedded %s %s, package-lock.json pins %s", p.dir, name, version, pin.Version)
		}
		if pin.License != "MIT" {
			t.Errorf("%s: licence %q, want MIT (the page inlines its licence as MIT)", name, pin.License)
		}
		lic, err := termAssets.ReadFile("term/" + p.dir + "/LICENSE")
		if err != nil || !bytes.Contains(lic, []byte("Permission is hereby granted, free of charge")) {
			t.Errorf("%s: LICENSE missing or not the MIT text (%v)", p.dir, err)
		}
	}

	sums, err := termAssets.ReadFile("term/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS: bad line %q (want sha256sum's format)", sc.Text())
		}
		recorded[file] = sum
	}
	var embedded []string
	err = fs.WalkDir(termAssets, "term", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "term/SHA256SUMS" {
			return err
		}
		file := strings.TrimPrefix(path, "term/")
		embedded = append(embedded, file)
		b, err := termAssets.ReadFile(path)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		switch want, ok := recorded[file]; {
		case !ok:
			t.Errorf("%s is embedded but has no checksum in SHA256SUMS", file)
		case hex.EncodeToString(h[:]) != want:
			t.Errorf("%s: sha256 %x, SHA256SUMS records %s", file, h, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for file := range recorded {
		if !slices.Contains(embedded, file) {
			t.Errorf("SHA256SUMS records %s, which is not embedded", file)
		}
	}
	if len(embedded) == 0 {
		t.Fatal("no terminal assets embedded")
	}
}

// TestTermPageInlinesXterm: the page is built from the vendored files,
// every one inlined whole, each package headed by its name, version and
// licence, and no placeholder left over.
func TestTermPageInlinesXterm(t *testing.T) {
	p := termPage()
	page := p[0] + "ws://x/" + p[1]
	for _, pkg := range termPackages {
		name, version, err := termPackageInfo(pkg.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(page, "/*! "+name+" "+version+"\n") {
			t.Errorf("the page has no notice for %s %s", name, version)
		}
		for _, f := range slices.Concat(pkg.scripts, pkg.styles) {
			b, err := termAssets.ReadFile("term/" + pkg.dir + "/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(page, strings.ReplaceAll(string(b), "</", `<\/`)) {
				t.Errorf("%s/%s is not inlined whole", pkg.dir, f)
			}
		}
	}
	for _, ph := range []string{"{{addr}}", "{{xtermcss}}", "{{xtermscripts}}"} {
		if strings.Contains(page, ph) {
			t.Errorf("the placeholder %s is left in the page", ph)
		}
	}
	if !strings.Contains(page, `value="ws://x/"`) {
		t.Errorf("the page's URL field is not the endpoint's URL")
	}
}
