// Package builderui embeds the built flow builder (builder-ui/dist) so Go users never need Node.
package builderui

import "embed"

// Dist is the Vite build output; index.html is the SPA entry.
//
//go:embed all:dist
var Dist embed.FS
