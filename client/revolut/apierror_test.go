package revolut_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finauth/finauth/client/revolut"
)

func TestCheckResponse_ReadsOpenBankingAndPlainErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status         int
		body           string
		code, contains string
	}{
		{400, `{"Code":"400 BadRequest","Id":"x","Message":"Bad request","Errors":[{"ErrorCode":"UK.OBIE.Field.Invalid","Message":"Amount is invalid"}]}`, "UK.OBIE.Field.Invalid", "Amount is invalid"},
		{403, `{"Code":"UK.OBIE.Resource.NotFound","Message":"consent not found"}`, "UK.OBIE.Resource.NotFound", "consent not found"},
		{400, `{"error":"x_jws_signature","message":"does not verify"}`, "x_jws_signature", "does not verify"},
		{502, `<html>bad gateway</html>`, "", "502 Bad Gateway"},
	} {
		resp := &http.Response{StatusCode: c.status, Body: io.NopCloser(strings.NewReader(c.body))}
		err := revolut.CheckResponse(resp)
		var ae *revolut.APIError
		if !errors.As(err, &ae) || ae.Code != c.code || !strings.Contains(err.Error(), c.contains) {
			t.Errorf("%s: %v", c.body, err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != c.body {
			t.Errorf("the body was not put back: %q", b)
		}
	}
	if err := revolut.CheckResponse(&http.Response{StatusCode: 201, Body: http.NoBody}); err != nil {
		t.Fatal(err)
	}
}
