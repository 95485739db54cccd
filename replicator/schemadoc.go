package replicator

import "github.com/deltasync/deltasync/changelog"

// SchemaDoc is a database's schema as the first device gives it to the hub:
// the DDL of the tracked tables and their indexes, and the merge policy of
// every table whose policy is not the default.
type SchemaDoc struct {
	Fingerprint string                      `json:"fingerprint"` // hex
	Statements  []string                    `json:"statements"`
	Policies    map[string]changelog.Policy `json:"policies,omitempty"`
}
