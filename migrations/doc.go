// Package migrations creates and upgrades deltasync's internal _sync_* tables
// with golang-migrate, from SQL files embedded in the binary.
//
// golang-migrate keeps its version in a table named _sync_schema_migrations,
// so a database whose app already uses golang-migrate (schema_migrations)
// keeps working: the two never see each other. golang-migrate's sqlite3
// driver also creates an index with the fixed name version_unique; Up drops
// it again when it landed on our table, so that an app's own golang-migrate
// can still create its index of that name.
//
// migrations imports no other deltasync package.
package migrations
