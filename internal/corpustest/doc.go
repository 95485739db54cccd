// Package corpustest holds tests over the corpus of real schemas in
// testdata/corpus: for every database that load.sh builds, init installs
// (and reports exactly the expected skipped tables with their reasons), a
// second init changes nothing, a seeded random workload written by the stock
// sqlite3 shell is captured change for change, and uninstall restores the
// schema and leaves the app's data as the workload left it.
//
// The package has no code besides this comment: everything is in
// corpus_test.go. Run it with
//
//	go test ./internal/corpustest/ -v
//
// and reproduce a failure with the seed the test prints, for example
//
//	go test ./internal/corpustest/ -run 'TestCorpus/corpus/zotero' -corpus.seed=12345
//
// (or CORPUSTEST_SEED=12345 in the environment); -corpus.verbose logs every
// workload statement the schema refused, with its error. Without a seed the
// workload uses one fixed seed, so that make test is deterministic; make
// soak sets DELTASYNC_FRESH_SEEDS and draws a fresh seed every run.
//
// TestAppTriggersConverge syncs, through an in-process hub, three devices
// of every corpus whose app keeps triggers of its own, each pulling in a
// later second than the writes it pulls were made, and checks that they end
// equal and that uninstall gives each the schema it had.
//
// TestNullPrimaryKey and TestKeyChangeLogOrder pin down two defects of
// capture the corpus showed: rows with a NULL primary key, and the order in
// which a key change is logged (its "column added, init again" case still
// fails: a later init creates a column's trigger after the key trigger).
package corpustest
