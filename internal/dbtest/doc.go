// Package dbtest holds helpers for tests that need real SQLite files: open
// one, write to it through the stock sqlite3 shell, build the corpus of real
// schemas. Only tests import it.
package dbtest
