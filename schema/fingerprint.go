package schema

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
)

// Fingerprint identifies the tracked tables: their names, keys and writable
// columns with declared types, and the exact statements that create them
// and their indexes. Two nodes can exchange changes only if their
// fingerprints are equal. Constraints and UNIQUE indexes count, because
// they decide which rows a node accepts: nodes that differ in them cannot
// converge. The statements count whole, so that a hub that builds its
// replica from them proves, by the fingerprint, that it built nothing else.
// Views and triggers do not count: a hub never holds them.
func (s *Schema) Fingerprint() [32]byte {
	tables := append([]Table(nil), s.Tables...)
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "table %q key %q kind %d\n", t.Name, t.Key, t.KeyKind)
		cols := t.Writable()
		sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
		for _, c := range cols {
			fmt.Fprintf(&b, "  column %q %q\n", c.Name, strings.ToUpper(c.Type))
		}
		fmt.Fprintf(&b, "  sql %q\n", t.SQL)
		for _, ix := range t.Indexes {
			fmt.Fprintf(&b, "  index %q\n", ix)
		}
	}
	return sha256.Sum256([]byte(b.String()))
}
