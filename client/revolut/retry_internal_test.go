package revolut

import (
	"context"
	"fmt"
	"testing"

	"github.com/finauth/finauth/transport"
)

// A body too large to send is not sent again: the retry policy gives up on it at once.
func TestRetryPolicy_NeverRetriesABodyTooLarge(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("wrapped: %w", &transport.BodyTooLargeError{Limit: 1})
	if retry, _ := retryPolicy(context.Background(), nil, err); retry {
		t.Fatal("a body too large is retried")
	}
	if retry, _ := retryPolicy(context.Background(), nil, fmt.Errorf("connection reset")); !retry {
		t.Fatal("a connection error is not retried")
	}
}
