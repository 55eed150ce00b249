package api

import (
	"bytes"
	"compress/gzip"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	builderui "github.com/opsflow/opsflow/builder-ui"
	"github.com/opsflow/opsflow/engine/enginetest"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func get(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	// Set explicitly: the transport then leaves the body as sent.
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The builder's files go out precompressed by Accept-Encoding (brotli first), with their own
// Content-Type and Vary; hashed assets are cached for a year, index.html is revalidated; any
// other page path is index.html.
func TestBuilderAssetsCompressedAndCached(t *testing.T) {
	js := []byte(strings.Repeat("console.log('opsflow');", 100))
	ui := fstest.MapFS{
		"index.html":               {Data: []byte("<html>builder</html>")},
		"assets/app-abc123.js":     {Data: js},
		"assets/app-abc123.js.gz":  {Data: gz(t, js)},
		"assets/app-abc123.js.br":  {Data: []byte("brotli bytes")},
		"assets/app-abc123.css":    {Data: []byte("body{}")},
		"assets/app-abc123.css.gz": {Data: gz(t, []byte("body{}"))},
	}
	srv := apitest.NewServer(t, New(enginetest.New(t, enginetest.Embedded), Options{UI: ui, Tokens: []string{testToken}}))
	defer srv.Close()
	const year = "public, max-age=31536000, immutable"
	// The system's table may say text/ or application/javascript; either way not the encoding's type.
	jsType, cssType := mime.TypeByExtension(".js"), mime.TypeByExtension(".css")
	if !strings.Contains(jsType, "javascript") || !strings.HasPrefix(cssType, "text/css") {
		t.Fatalf("mime types: %q %q", jsType, cssType)
	}
	for _, tc := range []struct {
		path, accept, encoding, ctype, cache, body string
		vary                                       bool
	}{
		{"/assets/app-abc123.js", "gzip, deflate, br", "br", jsType, year, "brotli bytes", true},
		{"/assets/app-abc123.js", "gzip", "gzip", jsType, year, string(js), true},
		{"/assets/app-abc123.js", "br;q=0, gzip;q=0.5", "gzip", jsType, year, string(js), true},
		{"/assets/app-abc123.js", "", "", jsType, year, string(js), true},
		{"/assets/app-abc123.css", "br, gzip", "gzip", cssType, year, "body{}", true},
		{"/", "br, gzip", "", "text/html; charset=utf-8", "no-cache", "<html>builder</html>", false},
		{"/index.html", "gzip", "", "text/html; charset=utf-8", "no-cache", "<html>builder</html>", false},
		{"/dashboard", "gzip", "", "text/html; charset=utf-8", "no-cache", "<html>builder</html>", false},
		{"/runs?status=failed", "gzip", "", "text/html; charset=utf-8", "no-cache", "<html>builder</html>", false},
		{"/assets", "gzip", "", "text/html; charset=utf-8", "no-cache", "<html>builder</html>", false},
	} {
		resp, b := get(t, srv.URL+tc.path, tc.accept)
		if tc.encoding == "gzip" {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s (%s): not gzip: %v", tc.path, tc.accept, err)
			}
			b, _ = io.ReadAll(r)
		}
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Encoding") != tc.encoding || h.Get("Content-Type") != tc.ctype ||
			h.Get("Cache-Control") != tc.cache || (h.Get("Vary") == "Accept-Encoding") != tc.vary || string(b) != tc.body {
			t.Errorf("GET %s (Accept-Encoding %q): %d, encoding %q, type %q, cache %q, vary %q, body %.40q", tc.path, tc.accept,
				resp.StatusCode, h.Get("Content-Encoding"), h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("Vary"), b)
		}
	}
	if resp, b := get(t, srv.URL+"/api/v1/nothing", "gzip"); resp.StatusCode != 404 || !strings.Contains(string(b), "not_found") {
		t.Errorf("an unknown API path is not the builder: %d %s", resp.StatusCode, b)
	}
}

// The committed build has a gzip and a brotli copy of every script and style sheet, and the
// gzip one is the file.
func TestBuiltAssetsArePrecompressed(t *testing.T) {
	names, err := fs.Glob(builderui.Dist, "dist/assets/*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no built assets: %v", err)
	}
	ui, _ := fs.Sub(builderui.Dist, "dist")
	srv := apitest.NewServer(t, New(enginetest.New(t, enginetest.Embedded), Options{UI: ui, Tokens: []string{testToken}}))
	defer srv.Close()
	checked := 0
	for _, n := range names {
		if !strings.HasSuffix(n, ".js") && !strings.HasSuffix(n, ".css") {
			continue
		}
		raw, _ := fs.ReadFile(builderui.Dist, n)
		if len(raw) < 1024 {
			continue
		}
		checked++
		resp, b := get(t, srv.URL+strings.TrimPrefix(n, "dist"), "gzip")
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not sent gzipped (%v)", n, err)
			continue
		}
		if plain, _ := io.ReadAll(r); !bytes.Equal(plain, raw) {
			t.Errorf("%s: the .gz is not the file", n)
		}
		if resp, _ := get(t, srv.URL+strings.TrimPrefix(n, "dist"), "br"); resp.Header.Get("Content-Encoding") != "br" {
			t.Errorf("%s: no brotli copy", n)
		}
	}
	if checked == 0 {
		t.Fatal("no script or style sheet checked")
	}
}
