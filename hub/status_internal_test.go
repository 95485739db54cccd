package hub

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
)

// sentinels are the exported errors of packages hub, replicator, codec and
// conflicts that the hub can return, by name. TestEveryErrorHasAStatus finds
// every exported Err variable of those packages in the source and fails
// until it is here (with a row in statuses) or in notReturned.
var sentinels = map[string]error{
	"hub.ErrUnauthorized":  ErrUnauthorized,
	"hub.ErrForbidden":     ErrForbidden,
	"hub.ErrTooLarge":      ErrTooLarge,
	"hub.ErrBadRequest":    ErrBadRequest,
	"hub.ErrSiteTaken":     ErrSiteTaken,
	"hub.ErrTooManyWaits":  ErrTooManyWaits,
	"hub.ErrTooManyPushes": ErrTooManyPushes,
	"hub.ErrTooSlow":       ErrTooSlow,
	"hub.ErrInternal":      ErrInternal,
	"hub.ErrBadName":       ErrBadName,
	"hub.ErrBusy":          ErrBusy,
	"hub.ErrBadSchema":     ErrBadSchema,
	// An ErrBusy by errors.Is, and only that over HTTP: one code, "busy".
	"hub.ErrSchemaBusy": ErrSchemaBusy,

	"hub.ErrNoSchema":              ErrNoSchema,
	"replicator.ErrSchemaMismatch": replicator.ErrSchemaMismatch,
	"replicator.ErrUnknownTable":   replicator.ErrUnknownTable,
	"replicator.ErrUnknownColumn":  replicator.ErrUnknownColumn,
	"replicator.ErrClockSkew":      replicator.ErrClockSkew,
	"replicator.ErrNotice":         replicator.ErrNotice,
	"replicator.ErrUnique":         replicator.ErrUnique,
	"replicator.ErrInvalidBatch":   replicator.ErrInvalidBatch,
	"replicator.ErrConstraint":     replicator.ErrConstraint,
	"replicator.ErrRowTooLarge":    replicator.ErrRowTooLarge,

	"codec.ErrBadMagic":  codec.ErrBadMagic,
	"codec.ErrVersion":   codec.ErrVersion,
	"codec.ErrChecksum":  codec.ErrChecksum,
	"codec.ErrTruncated": codec.ErrTruncated,
	"codec.ErrTooLarge":  codec.ErrTooLarge,
	"codec.ErrCorrupt":   codec.ErrCorrupt,
}

// notReturned are the exported errors of those packages that the hub never
// returns to a client, and why; they need no status.
var notReturned = map[string]string{
	"replicator.ErrStale":             "a device's refusal of a pull response; the hub merges pushes with no cursor to be stale against",
	"replicator.ErrUnpushedCollision": "a device's, merging a pull over its own unpushed write; on the hub the later row loses instead",
	"conflicts.ErrNoConflict":         "a device's Resolve of a conflict it does not hold; the hub resolves none",
	"replicator.ErrMissingFeature":    "an app trigger or virtual table needing a module the build lacks; a replica holds neither",
	"codec.ErrInvalid":                "Encode's, of a batch its caller built; the hub encoding a bad batch is its own failure, a 500",
}

// sentinelPackages are the packages whose errors the hub passes on, by the
// directory of their source, relative to this one.
var sentinelPackages = map[string]string{"hub": ".", "replicator": "../replicator", "codec": "../codec", "conflicts": "../conflicts"}

// TestEveryErrorHasAStatus: every exported error the hub can return has a
// row in statuses, and no exported error is forgotten: each one declared
// is in sentinels or in notReturned.
func TestEveryErrorHasAStatus(t *testing.T) {
	var declared []string
	for pkg, dir := range sentinelPackages {
		declared = append(declared, exportedErrors(t, pkg, dir)...)
	}
	for _, name := range declared {
		_, returned := sentinels[name]
		if _, why := notReturned[name]; returned == why {
			t.Errorf("%s: in sentinels %v, in notReturned %v; want exactly one", name, returned, why)
		}
	}
	for name, err := range sentinels {
		if !slices.Contains(declared, name) {
			t.Errorf("sentinels names %s, which no package declares", name)
		}
		if _, code := statusOf(err); code == "internal" && err != ErrInternal {
			t.Errorf("%s: got code %q, a 500, want a row of its own in statuses", name, code)
		}
	}
	for name := range notReturned {
		if !slices.Contains(declared, name) {
			t.Errorf("notReturned names %s, which no package declares", name)
		}
	}
}

// exportedErrors returns the exported package-level variables named Err*
// that the package in dir declares outside its tests, as pkg.Name.
func exportedErrors(t *testing.T, pkg, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("source of package %s in %s: %d files, %v", pkg, dir, len(files), err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, errorVars(f, pkg)...)
	}
	return names
}

func errorVars(f *ast.File, pkg string) []string {
	var names []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			for _, id := range spec.(*ast.ValueSpec).Names {
				if id.IsExported() && strings.HasPrefix(id.Name, "Err") {
					names = append(names, pkg+"."+id.Name)
				}
			}
		}
	}
	return names
}

// TestCodesMapBack: every code names one row, and the client maps it back
// to that row's sentinel.
func TestCodesMapBack(t *testing.T) {
	seen := map[string]error{}
	for _, s := range statuses {
		if prev, ok := seen[s.code]; ok {
			t.Errorf("code %q: got rows for %v and %v, want one", s.code, prev, s.err)
		}
		seen[s.code] = s.err
		if got := sentinelOf(s.code); !errors.Is(got, s.err) {
			t.Errorf("sentinelOf(%q): got %v, want %v", s.code, got, s.err)
		}
	}
}

// TestErrorsCrossTheWire: an error the hub returns, answered by the server
// and read by the client, is the same as the in-process hub's for every
// sentinel of statuses, by errors.Is: a client branches the same way on
// both.
func TestErrorsCrossTheWire(t *testing.T) {
	c := &Client{URL: "http://127.0.0.1:7070"}
	for name, sentinel := range sentinels {
		local := asReturned(sentinel)
		rec := httptest.NewRecorder()
		status, code := statusOf(local)
		writeError(rec, status, local.Error(), code)
		_, remote := c.answer(rec.Code, rec.Body.Bytes())
		for _, s := range statuses {
			if in, over := errors.Is(local, s.err), errors.Is(remote, s.err); in != over {
				t.Errorf("%s: errors.Is(err, the sentinel of code %q) in process %v, over HTTP %v; want the same", name, s.code, in, over)
			}
		}
	}
}

// asReturned is sentinel wrapped as the hub returns it: with detail, and in
// the sentinel that always wraps it, if any.
func asReturned(sentinel error) error {
	if outer := within[sentinel]; outer != nil {
		return fmt.Errorf("%w: detail (%w)", outer, sentinel)
	}
	return fmt.Errorf("%w: detail", sentinel)
}
