// Package hub is the coordination point devices sync through: one SQLite
// replica per database name under a data directory, each a replicator.Node,
// served over HTTP.
//
//	POST /v1/{db}/push                          merge one batch (body: a codec frame)
//	GET  /v1/{db}/pull?since=V&limit=N&wait=D&site=S   changes after V, long-polling up to D
//	GET  /v1/{db}/schema, PUT /v1/{db}/schema   the database's schema (JSON)
//	GET  /healthz, GET /metrics                 health (503 with a reason); Prometheus text format
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
// pragmas, SELECT, writes to any table, table and index names with the
// prefixes deltasync and SQLite reserve (_sync_, sqlite_), and every
// function but a short list of cheap, deterministic ones. It runs first in
// a scratch in-memory database, with a time bound; the objects it leaves
// must equal the statements one for one, and each must be a table
// deltasync tracks or an index of one: the fingerprint covers only those,
// so a table deltasync cannot track (say, one whose columns hide the
// rowid) could otherwise ride along unseen (schemacover.go). Only then is
// the replica built, under the same authorizer and the same check, in a
// temporary file linked into place when done, and its fingerprint, which
// covers every table and index statement, must equal the document's.
//
// The schema decides what a push costs: the hub evaluates CHECK,
// generated-column and index expressions on every row it merges. So the
// functions a schema may call take time about linear in their arguments
// and return no more than they were given (schemacost.go), save the
// functions of an id DEFAULT, which the hub never evaluates
// (schemadefault.go), and every
// connection to a replica limits a string, blob or row to just above the
// largest the hub writes (two frame bodies) and a LIKE or GLOB pattern to
// 1000 bytes.
//
// Only the statements can make a bad schema (422). A check and build cut
// short by the time limit (10 s) is 503 "busy"; a failure after the
// statements ran (installing the hub's own tables and triggers) is the
// hub's, a 500 (schemabuild.go). The hub checks and builds at most two
// schemas at once; further uploads wait their turn.
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
// every one is in use a request for another database gets 503 "busy". A
// long-poll pins its replica only while it reads, never while it waits:
// it waits on a notice the store keeps per database name, which every
// merge that moves the version sends, so that waiting long-polls hold no
// replica open however many databases they wait on, and hear of a merge
// into a replica that was closed and opened again meanwhile.
// Each push is merged in one transaction, so a pull never sees half of it.
// Client implements device.Hub over HTTP and Local implements it in
// process; both run the same conformance tests.
//
// # Errors
//
// Errors map to HTTP status in one table (status.go). Every error body is
// {"error": message, "code": stable-code}; Client maps the code back to
// the sentinel, and only the code: a 404 from something that is not a hub
// is not "the hub does not know this database". A client's mistake (a bad frame, a constraint its row
// breaks, since >= 2^63, a loss notice sent by a device) is a 4xx logged
// at WARN. The hub's own failure is a 500 whose body says only
// "internal error (logged as ID)"; the ERROR log line with that id has the
// real error, so no server path or SQLite message reaches a client. A
// client that leaves (a closed long-poll, a connection closed while its
// pull is read or written) is logged at DEBUG, not counted as an error,
// and gets no answer, whatever error its leaving caused. Once an answer
// has begun, no error body follows it.
//
// # Authentication
//
// Tokens, when configured, are stored as SHA-256 hashes, each allowed a
// set of database names ("*": all). A request carries one as RFC 6750
// says: "Authorization: Bearer TOKEN", the scheme in any case, one space,
// a token68; anything else is 401. LoadTokens refuses a token file that
// its group or others can write, and ParseTokens a line with an empty or
// invalid database name or a repeated token, naming the line. /metrics
// needs a valid token and shows only the series of the databases that
// token may sync; MetricsHandler serves all of them without a token, for
// a listener of its own (deltasync hub --metrics-listen). /healthz needs
// none and names no database.
//
// A hub with tokens binds each device site (a frame's origin) to the token
// that first pushed it, in the replica's _sync_hub_sites table, and
// refuses a push for that site with another token (403, "site-taken"), so
// that a device cannot write as another tenant's device. The binding is
// made inside the merge of the site's first valid push (replicator.Admit),
// so that a refused push binds nothing; a site whose token left the token
// file is free again, so that rotating a device's token needs only its new
// line. Without tokens
// there is nobody to bind to: any client may push as any site, which is
// why cmd/deltasync refuses to run a hub without tokens on a non-loopback
// address unless given --insecure-no-auth.
//
// # Limits
//
// Every request costs at most what its size and these limits allow (the
// flags of deltasync hub in brackets; SECURITY.md says how to choose):
//
//   - MaxBody [--max-body], DefaultMaxBody = codec.DefaultLimits.MaxFrame:
//     the largest body. A push is read header first: the 100-byte frame
//     header is checked against the codec's limits, MaxBody and the site
//     binding before any more is read, so junk costs 100 bytes.
//   - BodyBudget [--body-budget], DefaultBodyBudget = 1.5 x MaxBody: the
//     bytes of push bodies held at once, each counted as its frame plus
//     twice its declared uncompressed size (the decompressed body and the
//     values decoded from it). A third is kept for small pushes (counted
//     at up to a third, as a device's batch of DefaultBatchBytes is):
//     large ones hold at most two thirds between them, so that a large
//     push a client sends slowly holds no small one up, and while a large
//     one waits small ones take only their third, so that they never
//     starve it. Each kind is served first come first served. A push
//     counted as more than two thirds is counted as two thirds and passes
//     alone among large ones.
//   - MinRate [--min-rate], DefaultMinRate = 256 KiB/s: the slowest
//     transfer the hub waits for, after a grace of 30 s. A push body's
//     read deadline moves on as its bytes arrive, to when they are due at
//     that rate: a client that falls behind is cut with 408 "too-slow" and
//     gives its share of the budget back at once. A pull's frame must be
//     read within the time its size takes (a write deadline), or the hub
//     closes the connection. Both are logged at WARN ("client cut") and
//     counted (deltasync_hub_slow_clients_cut_total).
//   - MaxPushesPerToken [--max-pushes-per-token], 4: pushes one token
//     (without tokens, one client address) has in flight at once, reading,
//     waiting for the budget or merging; the next is 429
//     "too-many-pushes", Retry-After 5. So one token's queued pushes
//     cannot fill the budget's queue.
//   - Pulls carry at most replicator.DefaultBatchSize changes whatever
//     limit asks, and wait at most MaxWait [--max-wait, 60 s].
//   - PullBudget [--pull-budget], DefaultPullBudget = 64 MiB: the bytes of
//     pull frames built and held at once. Before it reads a replica a pull
//     takes a share of what the read may build (three times
//     replicator.DefaultBatchBytes: the values read, their encoded body,
//     the frame), waiting for one in turn; once the frame is built the
//     share shrinks to the frame's size, and it is given back when the
//     frame is written or the reader cut. A long-poll holds none while it
//     waits. A merge larger than a batch is served whole and counted at
//     its size once built.
//   - MaxConns [--max-conns], DefaultMaxConns = 512: connections held open.
//     At the cap a new connection closes the oldest one not serving a
//     request (idle, or still sending its header); with all serving, the
//     new one is closed.
//   - MaxWaitsPerToken [--max-waits-per-token], 128: long-polls one token
//     (without tokens, one client address) holds at once; the next is 429
//     "too-many-waits", Retry-After 5.
//   - Each connection to a replica keeps a 2 MiB page cache (SQLite's
//     default), since every connection of a pool fills its own; a merge
//     of 1,000 changes or more gets 64 MiB for its duration, which its
//     working set needs.
//   - HTTPServer sets the timeouts: 10 s for a header; for a request, the
//     time a full-size body takes at MinRate plus 30 s, and never less
//     than MaxWait + 30 s, since net/http cancels a request whose read
//     deadline passes even while its handler waits; for a response,
//     MaxWait plus that body time; 2 minutes for an idle keep-alive
//     connection. A push's body and a pull's frame get their own
//     deadlines, as above.
//   - A schema upload is at most 4 MiB of JSON. At most two are checked
//     and built at once, each within 10 s (else 503 "busy").
//
// /metrics shows each budget's use: deltasync_hub_push_budget_held_bytes
// and deltasync_hub_push_budget_waiting, and the same for pull.
//
// # Health
//
// /healthz answers 503 ("unhealthy") when it cannot create, write, sync and
// remove a file in the data directory, when an open replica fails a read
// of its last version, or when a replica file failed to open since it last
// opened. It touches the disk at most once per second.
//
// # Client
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
// what is not a hub's answer), for device.Permanent.
//
// hub owns _sync_hub_sites. It imports replicator, changelog, triggers,
// schema and codec, and never device: device imports hub for its client.
package hub
