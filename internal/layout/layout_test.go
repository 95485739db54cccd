package layout_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// owners says which package reads and writes each internal table.
// migrations creates and drops them all; nobody else names one in SQL.
var owners = map[string]string{
	"_sync_changelog":         "changelog",
	"_sync_applied":           "changelog",
	"_sync_tables":            "changelog",
	"_sync_columns":           "changelog",
	"_sync_peers":             "changelog",
	"_sync_state":             "changelog",
	"_sync_applying":          "changelog",
	"_sync_app_triggers":      "triggers",
	"_sync_clock":             "replicator",
	"_sync_sites":             "replicator",
	"_sync_conflicts":         "conflicts",
	"_sync_held":              "replicator",
	"_sync_hub_sites":         "hub",
	"_sync_schema_migrations": "migrations",
}

var tableName = regexp.MustCompile(`\b_sync_[a-z_]+`)

// TestOneOwnerPerTable fails when a string literal in a package's code
// (tests excepted: they may look at anything) names an internal table the
// package does not own.
func TestOneOwnerPerTable(t *testing.T) {
	for _, lit := range literals(t) {
		for _, name := range tableName.FindAllString(lit.value, -1) {
			owner, known := owners[name]
			switch {
			case !known && lit.pkg != "migrations":
				t.Errorf("%s: names %s, which has no owner: add it to owners", lit.pos, name)
			case known && lit.pkg != owner && lit.pkg != "migrations":
				t.Errorf("%s: package %s names %s, which belongs to package %s: use %s's API", lit.pos, lit.pkg, name, owner, owner)
			}
		}
	}
}

// TestEveryTableHasAnOwner fails when the migrations create a table that
// owners does not list.
func TestEveryTableHasAnOwner(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root(t), "migrations", "sql", "*.up.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	create := regexp.MustCompile(`CREATE TABLE (_sync_[a-z_]+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			if _, ok := owners[m[1]]; !ok {
				t.Errorf("%s creates %s: add it to owners with the package that reads and writes it", filepath.Base(f), m[1])
			}
		}
	}
}

// sqlVerbs are the statements a string must start with to be SQL.
var sqlVerbs = regexp.MustCompile(`(?i)^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|BEGIN|REPLACE)\b`)

// TestCommandRunsNoSQL: cmd/deltasync wires packages and prints what they
// return; what it needs of a database, some package's API gives it.
func TestCommandRunsNoSQL(t *testing.T) {
	for _, lit := range literals(t) {
		if lit.pkg == "cmd/deltasync" && sqlVerbs.MatchString(lit.value) {
			t.Errorf("%s: cmd/deltasync runs SQL %q: move it behind the API of the package that owns the tables", lit.pos, lit.value)
		}
	}
}

// TestRulesArePure: the merge decision imports nothing that does I/O, so
// that it stays a function of its arguments.
func TestRulesArePure(t *testing.T) {
	allowed := map[string]bool{
		"github.com/deltasync/deltasync/change":    true,
		"github.com/deltasync/deltasync/changelog": true, // for the Policy type only
		"bytes": true, "cmp": true, "errors": true, "fmt": true, "maps": true, "slices": true, "sort": true, "strings": true,
	}
	for _, imp := range imports(t, "replicator/rules") {
		if !allowed[imp.path] {
			t.Errorf("%s imports %s: the merge decision must stay free of I/O", imp.file, imp.path)
		}
	}
}

// mustNotImport is what each package's doc says it must not import (of
// this module): the arrows of the layout point one way.
var mustNotImport = map[string][]string{
	"change":              {"*"},
	"codec":               {"*", "but change"},
	"schema":              {"*"},
	"migrations":          {"*"},
	"changelog":           {"triggers", "replicator", "conflicts", "device", "hub", "codec"},
	"triggers":            {"replicator", "conflicts", "device", "hub", "codec"},
	"conflicts":           {"replicator", "device", "hub", "codec"},
	"replicator":          {"device", "hub", "triggers"},
	"replicator/rules":    {"replicator", "conflicts", "device", "hub", "codec", "triggers"},
	"device":              {"cmd/deltasync"},
	"hub":                 {"device"},
	"internal/sqlitefile": {"*"},
}

// TestImportRules fails when a package imports one of this module's
// packages its doc says it must not.
func TestImportRules(t *testing.T) {
	const module = "github.com/deltasync/deltasync/"
	for pkg, banned := range mustNotImport {
		for _, imp := range imports(t, pkg) {
			dep, ok := strings.CutPrefix(imp.path, module)
			all := slices.Contains(banned, "*") && !slices.Contains(banned, "but "+dep)
			if ok && (all || slices.Contains(banned, dep)) {
				t.Errorf("%s/%s imports %s, which its package doc rules out", pkg, imp.file, dep)
			}
		}
	}
}

// anImport is one import of a package's non-test file.
type anImport struct{ file, path string }

// imports lists the imports of pkg's non-test files (pkg relative to the
// module root).
func imports(t *testing.T, pkg string) []anImport {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), filepath.FromSlash(pkg), "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", pkg, err)
	}
	var out []anImport
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			out = append(out, anImport{filepath.Base(f), path})
		}
	}
	return out
}

type literal struct {
	pkg   string // directory relative to the module root
	pos   string
	value string
}

// literals returns every string literal of the module's non-test Go files.
func literals(t *testing.T) []literal {
	t.Helper()
	base := root(t)
	var out []literal
	fset := token.NewFileSet()
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg, _ := filepath.Rel(base, filepath.Dir(path))
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, err := strconv.Unquote(lit.Value)
				if err == nil {
					out = append(out, literal{filepath.ToSlash(pkg), fset.Position(lit.Pos()).String(), v})
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("found only %d string literals under %s: is this the module root?", len(out), base)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// root is the module's root directory, two levels above this package.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", dir, err)
	}
	return dir
}
