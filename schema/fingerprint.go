package schema

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
)

// Fingerprint identifies the shape of the tracked tables: their names, keys
// and writable columns with declared types. Two nodes can exchange changes
// only if their fingerprints are equal. Column order, indexes, views and
// triggers do not count: changes name columns, and replay never depends on them.
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
	}
	return sha256.Sum256([]byte(b.String()))
}
