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
// have the same schema fingerprint.
//
// # No SQL from the network
//
// A schema document is SQL text from the network, and the hub runs it only
// once it has proved that the text creates exactly the tables and indexes
// it declares (schemadoc.go). Each statement must be stored the way
// sqlite_schema stores it; it is prepared alone, so that nothing after the
// first statement ever runs, under a SQLite authorizer that allows only
// CREATE TABLE and CREATE INDEX in the main database and what SQLite does
// on their behalf, and denies ATTACH, triggers, views, temp objects,
// pragmas, SELECT, writes to any table, deltasync's own table names and
// functions that reach outside the database (load_extension and the
// like). It runs first in a scratch in-memory database, with a time bound;
// the objects it leaves must equal the statements one for one. Only then
// is the replica built, under the same authorizer, in a temporary file
// linked into place when done, and its fingerprint, which covers every
// table and index statement, must equal the document's.
//
// Why checked statements rather than a structured description the hub
// renders itself: the parts of a schema that decide which rows a node
// accepts (CHECK and DEFAULT expressions, generated columns, collations,
// partial and expression indexes) are SQL expressions in either form, so a
// description would carry SQL text too and need the same proof; and the
// device's own statements give the replica exactly the device's
// constraints, which a rendering would have to reproduce for every
// feature of the corpus's 20 schemas. The schema-evolution work extends the
// same proof to ALTER TABLE statements.
//
// # One database never stalls another
//
// The store's lock guards only its map of open replicas: a replica is
// opened, built, merged into and read without it. Replicas are closed when
// idle (Store.IdleTimeout) and beyond Store.MaxOpen, least recently used
// first; one in use (Get pins it until Release) is never closed, and when
// every one is in use a request for another database gets 503 "busy". Each push is merged in one transaction,
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
