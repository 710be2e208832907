package docs_test

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/acqsim/acqsim/"

// TestPackageMap: the README's package map lists every package of the host,
// and each imports (outside its tests) only what its row allows.
func TestPackageMap(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin, end := strings.Index(doc, "<!-- package map -->"), strings.Index(doc, "<!-- end package map -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md lacks the package map's markers")
	}
	allowed := map[string][]string{}
	for _, row := range strings.Split(doc[begin:end], "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		pkg := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var may []string
		for _, m := range strings.Split(cells[3], ",") {
			if m = strings.Trim(strings.TrimSpace(m), "`"); m != "" {
				may = append(may, m)
			}
		}
		allowed[pkg] = may
	}

	listed := map[string]bool{}
	err = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel("..", path)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(d.Name(), ".") && rel != ".", rel == "docs", rel == "interop", strings.HasPrefix(rel, "internal"),
			d.Name() == "testdata", d.Name() == "node_modules":
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go here
		}
		listed[rel] = true
		may, ok := allowed[rel]
		if !ok {
			t.Errorf("package %s is not in the README's package map", rel)
			return nil
		}
		if slices.Equal(may, []string{"any"}) {
			return nil
		}
		for _, imp := range p.Imports {
			if dep, ours := strings.CutPrefix(imp, module); ours && !slices.Contains(may, dep) {
				t.Errorf("package %s imports %s, which its row of the README's package map does not allow", rel, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowed {
		if !listed[pkg] {
			t.Errorf("the README's package map lists %s, which is not a package", pkg)
		}
	}
}
