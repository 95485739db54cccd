package replicator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/schema"
)

// SchemaDoc is a database's schema as the first device gives it to the hub:
// the DDL of the tracked tables and their indexes, and the merge policy of
// every table whose policy is not the default.
type SchemaDoc struct {
	Fingerprint string                      `json:"fingerprint"` // hex
	Statements  []string                    `json:"statements"`
	Policies    map[string]changelog.Policy `json:"policies,omitempty"`
}

// Schema returns the tracked tables and their fingerprint as q sees them.
func (n *Node) Schema(ctx context.Context, q sqlx.QueryerContext) (map[string]changelog.Tracked, [32]byte, error) {
	tracked, err := n.log.Tracked(ctx, q)
	if err != nil {
		return nil, [32]byte{}, err
	}
	s := &schema.Schema{}
	for _, t := range tracked {
		s.Tables = append(s.Tables, t.Table)
	}
	return tracked, fingerprint(s.Fingerprint(), tracked), nil
}

// fingerprint adds the tables' merge policies to a schema fingerprint, so
// that nodes that would merge a table differently refuse each other's
// batches. With every table on the default policy it is the schema's own.
func fingerprint(fp [32]byte, tracked map[string]changelog.Tracked) [32]byte {
	var names []string
	for name, t := range tracked {
		if t.Policy != changelog.LWWColumn {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return fp
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write(fp[:])
	for _, name := range names {
		fmt.Fprintf(h, "policy %q %q\n", name, tracked[name].Policy)
	}
	return [32]byte(h.Sum(nil))
}

// SchemaDoc returns the DDL a hub needs to hold this node's tracked tables:
// every table's CREATE TABLE, in name order, then their indexes.
func (n *Node) SchemaDoc(ctx context.Context) (*SchemaDoc, error) {
	tracked, fp, err := n.Schema(ctx, n.DB)
	if err != nil {
		return nil, err
	}
	doc := &SchemaDoc{Fingerprint: hex.EncodeToString(fp[:])}
	names := make([]string, 0, len(tracked))
	for name, t := range tracked {
		names = append(names, name)
		if t.Policy != changelog.LWWColumn {
			if doc.Policies == nil {
				doc.Policies = map[string]changelog.Policy{}
			}
			doc.Policies[name] = t.Policy
		}
	}
	sort.Strings(names)
	var indexes []string
	for _, name := range names {
		doc.Statements = append(doc.Statements, tracked[name].Table.SQL)
		indexes = append(indexes, tracked[name].Table.Indexes...)
	}
	doc.Statements = append(doc.Statements, indexes...)
	return doc, nil
}
