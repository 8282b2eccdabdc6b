//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/ed25519"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// Ed25519 keys (CKK_EC_EDWARDS), which crypto11 does not handle, are used through the
// module directly with CKM_EDDSA: a pool of sessions of the token, logged in, the private
// key found by label or id, the public key read from its CKA_EC_POINT.

// PKCS#11 3.0's Edwards-curve constants, which miekg/pkcs11 v1.1 does not define.
const (
	ckkECEdwards = 0x40
	ckmEdDSA     = 0x1057
)

// edModules are the modules loaded for EdDSA, one per path (C_Initialize once; crypto11
// may have initialised it already, which the module answers as already initialised).
var (
	edModulesMu sync.Mutex
	edModules   = map[string]*p11.Ctx{}
)

func edModule(path string) (*p11.Ctx, error) {
	edModulesMu.Lock()
	defer edModulesMu.Unlock()
	if c, ok := edModules[path]; ok {
		return c, nil
	}
	c := p11.New(path)
	if c == nil {
		return nil, fmt.Errorf("cannot load the module %s", path)
	}
	if err := c.Initialize(); err != nil && !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, err
	}
	edModules[path] = c
	return c, nil
}

func isCode(err error, code uint) bool {
	var pe p11.Error
	return errors.As(err, &pe) && uint(pe) == code
}

// String names the key by its URI, never its PIN (the field a plain %v would show).
func (e *edSigner) String() string { return "pkcs11 Ed25519 key " + e.u.String() }

// GoString is String: %#v shows no PIN either.
func (e *edSigner) GoString() string { return strconv.Quote(e.String()) }

// Format keeps every fmt verb on String.
func (e *edSigner) Format(f fmt.State, _ rune) { fmt.Fprint(f, e.String()) }

// LogValue keeps slog output on String.
func (e *edSigner) LogValue() slog.Value { return slog.StringValue(e.String()) }

// MarshalJSON marshals String.
func (e *edSigner) MarshalJSON() ([]byte, error) { return json.Marshal(e.String()) }

// edSigner is an Ed25519 key in a token.
type edSigner struct {
	u    *URI
	pin  string
	pub  ed25519.PublicKey
	ctx  *p11.Ctx
	slot uint

	mu       sync.Mutex
	key      p11.ObjectHandle
	sessions []p11.SessionHandle // idle
	opened   int
}

// openEdDSA finds the Ed25519 key pair the URI names.
func openEdDSA(u *URI, pin string) (*edSigner, error) {
	ctx, err := edModule(u.ModulePath)
	if err != nil {
		return nil, &Error{Op: "open the token", Token: u.Token, Object: u.Object, Err: err}
	}
	slot, err := findSlot(ctx, u)
	if err != nil {
		return nil, &Error{Op: "open the token", Token: u.Token, Object: u.Object, Err: err}
	}
	e := &edSigner{u: u, pin: pin, ctx: ctx, slot: slot}
	s, err := e.session()
	if err != nil {
		return nil, err
	}
	defer e.release(s)
	if err := e.findKey(s); err != nil {
		return nil, err
	}
	return e, nil
}

// findSlot is the slot holding the URI's token.
func findSlot(ctx *p11.Ctx, u *URI) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		if u.SlotID != nil && int(s) != *u.SlotID {
			continue
		}
		info, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if (u.Token == "" || strings.TrimRight(info.Label, " \x00") == u.Token) && (u.Serial == "" || strings.TrimRight(info.SerialNumber, " \x00") == u.Serial) {
			return s, nil
		}
	}
	return 0, errors.New("no token with this label, serial or slot")
}

// session takes an idle session, or opens and logs in a new one (bounded by max-sessions:
// beyond it, a session is opened for the call and closed after).
func (e *edSigner) session() (p11.SessionHandle, error) {
	e.mu.Lock()
	if n := len(e.sessions); n > 0 {
		s := e.sessions[n-1]
		e.sessions = e.sessions[:n-1]
		e.mu.Unlock()
		return s, nil
	}
	e.opened++
	e.mu.Unlock()
	s, err := e.ctx.OpenSession(e.slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		e.mu.Lock()
		e.opened--
		e.mu.Unlock()
		return 0, &Error{Op: "open a session", Token: e.u.Token, Object: e.u.Object, Err: err}
	}
	if e.pin != "" {
		if err := e.ctx.Login(s, p11.CKU_USER, e.pin); err != nil && !isCode(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
			e.ctx.CloseSession(s)
			return 0, &Error{Op: "log in", Token: e.u.Token, Object: e.u.Object, Err: scrub(err, e.pin)}
		}
	}
	return s, nil
}

func (e *edSigner) release(s p11.SessionHandle) {
	max := e.u.MaxSessions
	if max == 0 {
		max = DefaultMaxSessions
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.sessions) < max {
		e.sessions = append(e.sessions, s)
		return
	}
	e.opened--
	e.ctx.CloseSession(s)
}

// drop forgets every idle session (they are gone with the token's login).
func (e *edSigner) drop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions = nil
	e.opened = 0
}

// findKey finds the private key and reads the public key.
func (e *edSigner) findKey(s p11.SessionHandle) error {
	attrs := []*p11.Attribute{p11.NewAttribute(p11.CKA_KEY_TYPE, ckkECEdwards)}
	if e.u.Object != "" {
		attrs = append(attrs, p11.NewAttribute(p11.CKA_LABEL, e.u.Object))
	}
	if e.u.ID != nil {
		attrs = append(attrs, p11.NewAttribute(p11.CKA_ID, e.u.ID))
	}
	find := func(class uint) (p11.ObjectHandle, error) {
		tmpl := append([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)}, attrs...)
		if err := e.ctx.FindObjectsInit(s, tmpl); err != nil {
			return 0, err
		}
		objs, _, err := e.ctx.FindObjects(s, 2)
		e.ctx.FindObjectsFinal(s)
		if err != nil {
			return 0, err
		}
		if len(objs) != 1 {
			return 0, fmt.Errorf("%d Ed25519 objects of class %d with this label or id: want one", len(objs), class)
		}
		return objs[0], nil
	}
	priv, err := find(p11.CKO_PRIVATE_KEY)
	if err != nil {
		return &Error{Op: "find the key", Token: e.u.Token, Object: e.u.Object, Err: err}
	}
	pubObj, err := find(p11.CKO_PUBLIC_KEY)
	if err != nil {
		return &Error{Op: "find the public key", Token: e.u.Token, Object: e.u.Object, Err: err}
	}
	got, err := e.ctx.GetAttributeValue(s, pubObj, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil || len(got) != 1 {
		return &Error{Op: "read the public key", Token: e.u.Token, Object: e.u.Object, Err: fmt.Errorf("CKA_EC_POINT: %v", err)}
	}
	point := got[0].Value
	var inner []byte // an OCTET STRING around the 32 bytes (PKCS#11 3.0), or the bytes bare
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	if len(point) != ed25519.PublicKeySize {
		return &Error{Op: "read the public key", Token: e.u.Token, Object: e.u.Object, Err: fmt.Errorf("CKA_EC_POINT of %d bytes is not an Ed25519 key", len(point))}
	}
	if e.pub != nil && !e.pub.Equal(ed25519.PublicKey(point)) {
		return &Error{Op: "find the key", Token: e.u.Token, Object: e.u.Object, Err: errors.New("after logging in again, the object is another key")}
	}
	e.mu.Lock()
	e.key, e.pub = priv, ed25519.PublicKey(point)
	e.mu.Unlock()
	return nil
}

func (e *edSigner) Public() crypto.PublicKey { return e.pub }

// Sign signs message (Ed25519 signs the message, not a digest: opts.HashFunc() is 0).
func (e *edSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != 0 {
		return nil, &Error{Op: "sign", Token: e.u.Token, Object: e.u.Object, Err: errors.New("Ed25519 signs the message itself: no hash")}
	}
	sig, err := e.sign(message)
	if err != nil && sessionLost(err) {
		e.drop()
		s, serr := e.session()
		if serr != nil {
			return nil, serr
		}
		ferr := e.findKey(s)
		e.release(s)
		if ferr != nil {
			return nil, ferr
		}
		sig, err = e.sign(message)
	}
	if err != nil {
		return nil, &Error{Op: "sign", Token: e.u.Token, Object: e.u.Object, Err: scrub(err, e.pin)}
	}
	return sig, nil
}

func (e *edSigner) sign(message []byte) ([]byte, error) {
	s, err := e.session()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	key := e.key
	e.mu.Unlock()
	if err := e.ctx.SignInit(s, []*p11.Mechanism{p11.NewMechanism(ckmEdDSA, nil)}, key); err != nil {
		if sessionLost(err) {
			return nil, err // the session is gone: not given back
		}
		e.release(s)
		return nil, err
	}
	sig, err := e.ctx.Sign(s, message)
	if err != nil && sessionLost(err) {
		return nil, err
	}
	e.release(s)
	return sig, err
}
