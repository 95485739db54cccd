// Package change declares the words every part of deltasync speaks about a
// change (one row-level event, as the design names it): its Op, the SiteID
// of the node that wrote it, the Version that places it in a node's
// changelog, the HLC that orders writes, the Clock (HLC and site id) each
// column carries of its last write, and how one of its values prints
// (Literal).
//
// Each is declared here once, so that changelog, codec, replicator, device
// and hub pass them to each other as they are, without converting.
//
// change is a leaf: it imports only the standard library, and every other
// deltasync package may import it.
package change
