package admin

import (
	_ "embed"
	"net/http"
)

// openAPI documents the API; a test checks it against the routes.
//
//go:embed openapi.yaml
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}
