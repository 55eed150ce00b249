// Package nodes holds opsflow's node types, one file each. Every file registers its node.Spec in
// init; importing this package (the binary does) makes them all available.
package nodes
