package region

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.0.3 description of every endpoint of
// the region's handler, with a schema for every response. It is written
// by hand and embedded; openapi_test.go checks it with validators not
// written by us (the document itself, and every response the endpoint
// tests get against it), so it cannot drift from the handlers unseen.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the region API's OpenAPI document (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// serveOpenAPI answers GET /api/openapi.json. It needs no token: the
// document describes the API, not the region's data.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}
