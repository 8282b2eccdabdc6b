package signer

import (
	"encoding/json"
	"strings"
)

// Unverified is a compact JWS read without checking its signature. Nothing in it can be
// trusted: it serves to show a token (the CLI's decode), to read the members that choose a
// verifier (a kid, a member ID) before verifying, and to read when a server's own token
// expires.
type Unverified struct {
	// Header holds the protected-header members as raw JSON; RawHeader is the decoded header.
	Header    map[string]json.RawMessage
	RawHeader []byte
	// Payload is the decoded payload (unencoded as it stands when the header says b64 false);
	// nil for a detached JWS (header..signature).
	Payload  []byte
	Detached bool
	// Signature is the signature segment as it was given (base64url).
	Signature string
}

// HeaderString returns a string-valued header member.
func (u *Unverified) HeaderString(name string) (string, bool) { return headerString(u.Header, name) }

// DecodeUnverified splits and decodes a compact JWS ("header.payload.signature", or
// "header..signature" detached) WITHOUT verifying it. Errors are *VerifyError wrapping
// ErrMalformedJWS, with the same strictness as Verify (canonical base64url, a JSON object
// header without duplicate members, at most 16 KiB of header).
func DecodeUnverified(token string) (*Unverified, error) {
	u, _, pb64, err := decodeSegments(token)
	if err != nil {
		return nil, err
	}
	if u.Detached {
		return u, nil
	}
	if b, ok := u.Header["b64"]; ok && string(b) == "false" {
		u.Payload = []byte(pb64)
		return u, nil
	}
	if u.Payload, err = strict.DecodeString(pb64); err != nil {
		return nil, verr(ErrMalformedJWS, "payload is not base64url")
	}
	return u, nil
}

// decodeSegments splits token and decodes its header (not its payload); it also returns the
// header and payload segments as they were given, which the signing input is made of.
func decodeSegments(token string) (u *Unverified, hb64, pb64 string, err error) {
	hb64, pb64, sb64, err := splitCompact(token)
	if err != nil {
		return nil, "", "", err
	}
	rawHeader, header, err := decodeHeader(hb64)
	if err != nil {
		return nil, "", "", err
	}
	return &Unverified{Header: header, RawHeader: rawHeader, Signature: sb64, Detached: pb64 == ""}, hb64, pb64, nil
}

// splitCompact returns the three segments of a compact JWS; the payload may be empty
// (detached), the header and signature may not.
func splitCompact(token string) (header, payload, signature string, err error) {
	header, rest, ok1 := strings.Cut(token, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(signature, ".") {
		return "", "", "", verr(ErrMalformedJWS, "expected three dot-separated parts")
	}
	if header == "" || signature == "" {
		return "", "", "", verr(ErrMalformedJWS, "empty header or signature")
	}
	return header, payload, signature, nil
}

// decodeHeader decodes a protected header segment strictly.
func decodeHeader(hb64 string) ([]byte, map[string]json.RawMessage, error) {
	if b64.DecodedLen(len(hb64)) > maxHeaderBytes {
		return nil, nil, verr(ErrMalformedJWS, "header larger than %d bytes", maxHeaderBytes)
	}
	raw, err := strict.DecodeString(hb64)
	if err != nil {
		return nil, nil, verr(ErrMalformedJWS, "header is not base64url")
	}
	header, err := parseHeaderObject(raw)
	if err != nil {
		return nil, nil, verr(ErrMalformedJWS, "header: %v", err)
	}
	return raw, header, nil
}

func headerString(h map[string]json.RawMessage, name string) (string, bool) {
	var s string
	raw, ok := h[name]
	if !ok || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
