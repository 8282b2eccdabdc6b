package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/finauth/finauth/testkit/redistest"
	"github.com/finauth/finauth/tokencache/redisstore"
)

// Check says at startup what the store itself never fails a request over: a wrong password
// (ErrAuth, no password in the message), a Redis that does not answer, or nil.
func TestCheck_SaysWhetherRedisAnswersAndAcceptsTheCredentials(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := newStore(t, srv, key1).Check(ctx); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	wrong, err := redisstore.New(redisstore.Options{URL: "redis://:not-the-password-7@" + srv.Addr + "/0", Keys: [][]byte{key1}})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	err = wrong.Check(ctx)
	if !errors.Is(err, redisstore.ErrAuth) || strings.Contains(err.Error(), "not-the-password-7") {
		t.Fatalf("a wrong password: %v", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	down, err := redisstore.New(redisstore.Options{URL: "redis://:pw@" + addr + "/0", Keys: [][]byte{key1}})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if err := down.Check(ctx); err == nil || errors.Is(err, redisstore.ErrAuth) || strings.Contains(err.Error(), ":pw@") {
		t.Fatalf("a Redis that does not answer: %v", err)
	}
}
