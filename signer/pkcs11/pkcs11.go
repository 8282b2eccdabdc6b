//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/finauth/finauth/signer"
)

func init() { signer.RegisterKeyScheme("pkcs11", Open) }

// DefaultMaxSessions is how many sessions of one token a process opens at most (signatures
// in flight at once).
const DefaultMaxSessions = 8

// contexts are the logged-in modules and tokens, one per module, token and PIN, kept for
// the life of the process (a login is slow, and a module is loaded once).
var (
	contextsMu sync.Mutex
	contexts   = map[[32]byte]*crypto11.Context{}
	loggedIn   = map[[32]byte][32]byte{} // module and token -> the key of the context that logged in
)

func contextKey(u *URI, pin string) [32]byte {
	slot := ""
	if u.SlotID != nil {
		slot = strconv.Itoa(*u.SlotID)
	}
	return sha256.Sum256([]byte(u.ModulePath + "\x00" + u.Token + "\x00" + u.Serial + "\x00" + slot + "\x00" + pin))
}

// Open opens the key a pkcs11: URI addresses and returns it as a signer.Key (opts as
// signer.NewKey takes them: WithKeyID, WithAlgorithm). The key never leaves the module.
func Open(ctx context.Context, raw string, opts ...signer.LoadOption) (*signer.Key, error) {
	u, err := ParseURI(raw)
	if err != nil {
		return nil, err
	}
	pin, err := u.PIN()
	if err != nil {
		return nil, err
	}
	c, err := login(u, pin)
	if err != nil {
		return nil, err
	}
	kp, err := find(c, u, pin)
	if err != nil && strings.Contains(err.Error(), "unsupported key type: 40") { // CKK_EC_EDWARDS: Ed25519, which crypto11 does not do
		ed, eerr := openEdDSA(u, pin)
		if eerr != nil {
			return nil, eerr
		}
		k, err := signer.NewKey(ed, opts...)
		if err != nil {
			return nil, &Error{Op: "use the key", Token: u.Token, Object: u.Object, Err: err}
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	k, err := signer.NewKey(&hsmSigner{s: kp, u: u, pin: pin}, opts...)
	if err != nil {
		return nil, &Error{Op: "use the key", Token: u.Token, Object: u.Object, Err: err}
	}
	return k, nil
}

// find looks the key pair up in the token.
func find(c *crypto11.Context, u *URI, pin string) (crypto11.Signer, error) {
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	kp, err := c.FindKeyPair(u.ID, label)
	if err != nil {
		return nil, &Error{Op: "find the key", Token: u.Token, Object: u.Object, Err: scrub(err, pin)}
	}
	if kp == nil {
		return nil, &Error{Op: "find the key", Token: u.Token, Object: u.Object, Err: errors.New("no private key with this label or id (and its public key) in the token")}
	}
	return kp, nil
}

// forget drops the token's context (its sessions are gone), so that the next login makes a
// new one.
func forget(u *URI, pin string) {
	contextsMu.Lock()
	defer contextsMu.Unlock()
	key := contextKey(u, pin)
	if c, ok := contexts[key]; ok {
		c.Close() // its sessions are invalid already; this releases the module reference
		delete(contexts, key)
		delete(loggedIn, contextKey(u, ""))
	}
}

// login returns the token's context, configuring the module and logging in the first time.
func login(u *URI, pin string) (*crypto11.Context, error) {
	key := contextKey(u, pin)
	contextsMu.Lock()
	defer contextsMu.Unlock()
	if c, ok := contexts[key]; ok {
		return c, nil
	}
	// A process logs in to a token once (PKCS#11 login state is per application): a
	// second login with another PIN would "succeed" as already logged in, so it is checked
	// here against the PIN that worked.
	token := contextKey(u, "")
	if good, ok := loggedIn[token]; ok && good != key {
		return nil, &Error{Op: "log in", Token: u.Token, Object: u.Object, Err: errors.New("the PIN is not the one this process logged in to the token with: is it wrong?")}
	}
	max := u.MaxSessions
	if max == 0 {
		max = DefaultMaxSessions
	}
	cfg := &crypto11.Config{Path: u.ModulePath, TokenLabel: u.Token, TokenSerial: u.Serial, SlotNumber: u.SlotID, Pin: pin, MaxSessions: max}
	if pin == "" {
		cfg.LoginNotSupported = true
	}
	c, err := crypto11.Configure(cfg)
	if err != nil {
		return nil, &Error{Op: "open the token", Token: u.Token, Object: u.Object, Err: fmt.Errorf("module %s: %w", u.ModulePath, scrub(err, pin))}
	}
	contexts[key] = c
	loggedIn[token] = key
	return c, nil
}

// scrub drops the PIN from a module's message, should a module echo it.
func scrub(err error, pin string) error {
	if err == nil || pin == "" {
		return err
	}
	if msg := err.Error(); strings.Contains(msg, pin) {
		return errors.New(strings.ReplaceAll(msg, pin, "***"))
	}
	return err
}

// hsmSigner is the module's key as a crypto.Signer, with errors that name the key. When the
// token's sessions are gone (the HSM restarted, a network HSM failed over, someone closed
// them), it logs in again, finds the key again and makes the signature once more.
type hsmSigner struct {
	u   *URI
	pin string

	mu sync.Mutex
	s  crypto11.Signer
}

// String names the key by its URI, never its PIN (the field a plain %v would show).
func (h *hsmSigner) String() string { return "pkcs11 key " + h.u.String() }

// GoString is String: %#v shows no PIN either.
func (h *hsmSigner) GoString() string { return strconv.Quote(h.String()) }

// Format keeps every fmt verb on String.
func (h *hsmSigner) Format(f fmt.State, _ rune) { fmt.Fprint(f, h.String()) }

// LogValue keeps slog output on String.
func (h *hsmSigner) LogValue() slog.Value { return slog.StringValue(h.String()) }

// MarshalJSON marshals String.
func (h *hsmSigner) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }

func (h *hsmSigner) current() crypto11.Signer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

func (h *hsmSigner) Public() crypto.PublicKey { return h.current().Public() }

func (h *hsmSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s := h.current()
	sig, err := s.Sign(rand, digest, opts)
	if err != nil && sessionLost(err) {
		var again crypto11.Signer
		if again, err = h.reopen(s); err == nil {
			sig, err = again.Sign(rand, digest, opts)
		}
	}
	if err != nil {
		return nil, &Error{Op: "sign", Token: h.u.Token, Object: h.u.Object, Err: scrub(err, h.pin)}
	}
	return sig, nil
}

// reopen logs in again and finds the key, unless another signature already did since s
// failed.
func (h *hsmSigner) reopen(s crypto11.Signer) (crypto11.Signer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s != s {
		return h.s, nil
	}
	forget(h.u, h.pin)
	c, err := login(h.u, h.pin)
	if err != nil {
		return nil, err
	}
	kp, err := find(c, h.u, h.pin)
	if err != nil {
		return nil, err
	}
	if !publicEqual(kp.Public(), s.Public()) {
		return nil, errors.New("after logging in again, the object is another key")
	}
	h.s = kp
	return kp, nil
}

type equaler interface{ Equal(crypto.PublicKey) bool }

func publicEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// sessionLost reports a PKCS#11 error that means the sessions or the login are gone.
func sessionLost(err error) bool {
	var pe p11.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch uint(pe) {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_OBJECT_HANDLE_INVALID,
		p11.CKR_KEY_HANDLE_INVALID, p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_DEVICE_ERROR:
		return true
	}
	return false
}
