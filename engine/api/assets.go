package api

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// encodings are the precompressed variants the builder's build writes next to its files
// (builder-ui/vite.config.ts), in order of preference.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// serveUIFile answers with a file of the builder: its precompressed variant when the client
// accepts one, with the file's own Content-Type. Hashed assets (assets/…, named by content)
// are cached for a year; anything else (index.html) is revalidated on every load.
func (s *Server) serveUIFile(c *gin.Context, name string) {
	cache := "no-cache"
	if strings.HasPrefix(name, "assets/") {
		cache = "public, max-age=31536000, immutable"
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	if name == "index.html" {
		ctype = "text/html; charset=utf-8"
	}
	body, encoding, varies := []byte(nil), "", false
	accepted := acceptedEncodings(c.GetHeader("Accept-Encoding"))
	for _, e := range encodings {
		b, err := fs.ReadFile(s.ui, name+e.ext)
		if err != nil {
			continue
		}
		varies = true
		if body == nil && accepted[e.name] {
			body, encoding = b, e.name
		}
	}
	if body == nil {
		b, err := fs.ReadFile(s.ui, name)
		if err != nil {
			fail(c, http.StatusNotFound, "not_found", "the builder is not built", nil)
			return
		}
		body = b
	}
	h := c.Writer.Header()
	if varies {
		h.Set("Vary", "Accept-Encoding")
	}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Data(http.StatusOK, ctype, body)
}

// acceptedEncodings reads an Accept-Encoding header: the codings named without q=0.
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		if name != "" {
			out[name] = true
		}
	}
	return out
}
