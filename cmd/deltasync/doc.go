// Command deltasync syncs an app's SQLite database through a hub without
// changing the app (see README.md). It is one binary: `init`, `changes`, `status`, `diff`,
// `conflicts`, `uninstall`, `sync` (the device sidecar) and `hub`, one file
// and one type per command, all callable from tests through Main.Run.
//
// It wires packages and prints what they return: it reads flags, the
// environment and files, and runs no SQL of its own (internal/layout checks
// it). A device is wired by device.Open, as the Go API's Open does, so a
// setting the sidecar has, the Go API has too; library errors speak in
// their own terms, and this package says them in the words of its flags
// where one is to blame (inFlagWords).
package main
