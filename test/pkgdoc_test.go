package test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package of the module starts with a
// "// Package x ..." (or "// Command x ...") comment saying what it offers.
func TestPackageDocs(t *testing.T) {
	root := ".."
	var dirs []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, _ error) error {
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "tools" || name == "bin") {
				return filepath.SkipDir
			}
			dirs = append(dirs, path)
		}
		return nil
	})
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		documented := map[string]bool{} // package name → has a doc comment
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			name := af.Name.Name
			text := ""
			if af.Doc != nil {
				text = af.Doc.Text()
			}
			documented[name] = documented[name] || strings.HasPrefix(text, "Package "+name+" ") || strings.HasPrefix(text, "Command ")
		}
		for name, ok := range documented {
			if !ok {
				t.Errorf("package %s in %s has no \"// Package %s ...\" doc comment", name, dir, name)
			}
		}
	}
}
