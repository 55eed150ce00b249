// Package examples holds example flows, sample events and the template gallery; every one is run
// by this package's tests.
package examples

import "embed"

// Templates is the built-in gallery: templates/*.json.
//
//go:embed templates/*.json
var Templates embed.FS
