package telemetry

import (
	"context"
	"errors"
	"net"
	"strconv"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Reasoner is an error that names its finauth.reason (from a fixed set).
type Reasoner interface {
	TelemetryReason() string
}

// ReasonOf is err's finauth.reason, from a bounded set: the error's own (a Reasoner in its
// chain: a token endpoint's OAuth error code or status_NNN, ...), timeout, canceled,
// network, or other; "" for nil.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var r Reasoner
	if errors.As(err, &r) {
		return r.TelemetryReason()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "timeout"
		}
		return "network"
	}
	return "other"
}

// oauthCodes are the error codes of RFC 6749 section 5.2 and 4.1.2.1, RFC 6750 section
// 3.1 and RFC 8628: a provider's code is a reason only when it is one of these (a server
// may put anything in "error").
var oauthCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "server_error": true,
	"temporarily_unavailable": true, "invalid_token": true, "insufficient_scope": true, "slow_down": true,
	"expired_token": true, "unsupported_response_type": true,
}

// TokenEndpointReason is the reason of a token endpoint's refusal: its OAuth error code
// when it is a standard one, else status_NNN.
func TokenEndpointReason(status int, code string) string {
	if oauthCodes[code] {
		return code
	}
	if status < 100 || status > 599 {
		return "status_other"
	}
	return "status_" + strconv.Itoa(status)
}

// reasoned is a sentinel error with its reason.
type reasoned struct{ msg, reason string }

func (e *reasoned) Error() string           { return e.msg }
func (e *reasoned) TelemetryReason() string { return e.reason }

// Sentinel is errors.New(msg) whose finauth.reason is reason.
func Sentinel(msg, reason string) error { return &reasoned{msg: msg, reason: reason} }

// EndSpan ends span with the outcome of err: status Error with its reason (never the error's
// text, which may name an account) and finauth.reason.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		reason := ReasonOf(err)
		span.SetAttributes(AttrOutcome.String("error"), AttrReason.String(reason))
		span.SetStatus(codes.Error, reason)
	} else {
		span.SetAttributes(AttrOutcome.String("ok"))
	}
	span.End()
}
