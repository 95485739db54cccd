package change

// Version is a position in one node's changelog: strictly increasing, never
// reused, 0 before the first change. A device's cursor into its hub is a
// hub version; the hub's record of a device is a device version. It is an
// int64 because SQLite stores it as one; codec refuses a larger one.
type Version int64
