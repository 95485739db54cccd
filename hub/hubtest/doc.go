// Package hubtest is the contract of device.Hub: one suite, Run, that
// checks every method the way a device relies on it, error cases included,
// against any implementation. It is imported only by tests, in the manner
// of golang-migrate's database/testing.
//
// The hub package runs it against hub.Local (a Store in the same process)
// and against hub.Client talking to a hub.Server over HTTP on 127.0.0.1.
// Errors are checked with errors.Is against the sentinels of replicator,
// codec and hub, so that every implementation must refuse the same request
// with the same error: an error that reaches a client over HTTP as a bare
// 500 where the in-process hub names it fails the suite.
//
// A new implementation of the interface (a later JetStream-backed hub, for
// one) must pass Run before a device may use it. Each subtest is given a
// new, empty hub by the function passed to Run. A hub that can count the
// pulls waiting on a database (Waiter) lets the suite push only once a
// long-poll waits, so that the push is what must wake it.
//
// It imports replicator, codec, changelog, schema, triggers and the test
// helpers of internal/dbtest, and nothing of a hub implementation but the
// sentinels of package hub; it must not import a transport.
package hubtest
