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
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil {
					text := f.Doc.Text()
					if strings.HasPrefix(text, "Package "+name+" ") || strings.HasPrefix(text, "Command ") {
						documented = true
					}
				}
			}
			if !documented {
				t.Errorf("package %s in %s has no \"// Package %s ...\" doc comment", name, dir, name)
			}
		}
	}
}
