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
// Errors map to HTTP status in one table (status.go). A client maps an
// answer back to a sentinel only by the code in the hub's JSON error, never
// by the status alone: a 404 from something that is not a hub is not "the
// hub does not know this database".
//
// Client never waits without bound: it connects within DefaultDialTimeout,
// completes a TLS handshake within DefaultTLSHandshakeTimeout, and cancels
// a request that makes no progress for ResponseTimeout
// (DefaultResponseTimeout): from the request written to the answer's
// headers, with a long-poll pull's wait on top, and between reads of either
// body, so that a large upload or download that keeps moving is never cut.
// Mistakes that a retry cannot fix get one line saying what to do: a URL
// without http:// (CheckURL, also run by `deltasync sync` on its flag),
// plain HTTP to a TLS hub or the reverse, a 404 that is not the hub's JSON
// (a wrong address or path), a refused connection. HubError.Permanent says
// which answers retrying cannot cure (400, 401, 403, 409, 413, 422, and
// what is not a hub's answer), for replicator.Permanent. Tokens, when
// configured, are stored as SHA-256 hashes, each allowed a set of database
// names.
//
// hub imports replicator, changelog, triggers, schema and codec.
package hub
