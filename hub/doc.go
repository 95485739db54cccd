// Package hub is the coordination point devices sync through: one SQLite
// replica per database name under a data directory, each a replicator.Node,
// served over HTTP.
//
//	POST /v1/{db}/push                          merge one batch (body: a codec frame)
//	GET  /v1/{db}/pull?since=V&limit=N&wait=D&site=S   changes after V, long-polling up to D
//	GET  /v1/{db}/schema, PUT /v1/{db}/schema   the database's schema (JSON)
//	GET  /healthz, GET /metrics                 liveness; Prometheus text format
//
// The first device to sync a database name gives the hub its schema (the
// DDL of its tracked tables and their indexes, never the app's triggers or
// views: every row the hub holds arrives as a change); later devices must
// have the same schema fingerprint. Each push is merged in one transaction,
// so a pull never sees half of it. Client implements replicator.Hub over
// HTTP and Local implements it in process; both run the same conformance
// tests.
//
// Errors map to HTTP status in one table (status.go). Tokens, when
// configured, are stored as SHA-256 hashes, each allowed a set of database
// names.
//
// hub imports replicator, changelog, triggers, schema and codec.
package hub
