// Package layout holds only tests: the rules of the code's architecture
// that a compiler does not check. Each internal table (_sync_*) is read and
// written by one package, through that package's API, and cmd/deltasync
// runs no SQL of its own. A change to a table's shape then has one place to
// go, and these tests say where.
package layout
