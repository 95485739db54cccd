package replicator

// Prepares returns how many statements n's merges have prepared.
func (n *Node) Prepares() int64 { return n.prepares.Load() }
