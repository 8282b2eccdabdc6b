package jwks_test

import (
	"log"
	"net/http"

	"github.com/finauth/finauth/jwks"
)

// Serve the JWKS at /jwks.json: the current key, and the next one of a rotation as soon as
// its file appears.
func ExampleNewHandler() {
	h, err := jwks.NewHandler(jwks.HandlerOptions{Keys: []jwks.Key{
		{KID: "sig-1", File: "signing.pem"},
		{KID: "sig-2", File: "next-signing.pem"},
	}})
	if err != nil {
		log.Fatal(err) // a key that cannot be published, named
	}
	http.Handle("/jwks.json", h)
	log.Fatal(http.ListenAndServeTLS(":8443", "host.pem", "host.key", nil))
}
