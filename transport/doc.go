// Package transport holds finauth's http.RoundTrippers: [Bearer] puts a cached token on
// each request and, on a 401, refreshes it once for everyone and replays the request. The
// origin allow-list ([Origins]) and the request-body capture used for replays live here too,
// shared by every transport. The package knows no provider.
//
// Every RoundTripper here keeps net/http's contract: it never modifies the caller's
// request (it sends a copy) and it closes the request body on every path, errors included.
package transport
