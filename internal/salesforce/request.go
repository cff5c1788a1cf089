package salesforce

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswerBytes bounds what we read from any Salesforce endpoint. A real answer is under
// 2 KiB (userinfo a little more); anything near the limit is a misbehaving proxy, not
// Salesforce.
const maxAnswerBytes = 1 << 20

// reply is an answer read in full: status, bounded body, and when its headers arrived.
type reply struct {
	status     int
	body       []byte
	receivedAt time.Time
}

// postToken is the one request all grants share: a form POST to the token endpoint, read
// and classified here, where status, body and transport error are all still at hand.
func (c *HTTPClient) postToken(ctx context.Context, tokenURL string, grant Grant, form url.Values) (*Token, error) {
	r, err := c.postForm(ctx, tokenURL, form, "token request")
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusOK {
		return parseTokenAnswer(r.body, r.receivedAt)
	}
	return nil, classifyFailure(grant, r.status, r.body, formSecrets(form))
}

// postForm sends form to target. A form body is what Salesforce parses on every OAuth
// endpoint; a JSON body gets unsupported_grant_type. what names the request in error
// texts ("token request", "revoke request").
func (c *HTTPClient) postForm(ctx context.Context, target string, form url.Values, what string) (*reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		// target was built from a validated URL; this is a bug or a nil context.
		return nil, &Error{Class: Terminal, Message: "building the " + what}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.send(ctx, req, what)
}

// send runs req through the shared HTTP client (so connections are reused and redirects
// never followed) and reads the answer, bounded. Only transport failures are errors here;
// the caller classifies the status, since what a 401 means depends on the endpoint.
func (c *HTTPClient) send(ctx context.Context, req *http.Request, what string) (*reply, error) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, what, err)
	}
	defer resp.Body.Close()
	// The answer's time is when its headers arrived: Salesforce's clock may differ, and
	// a token is only good from the moment we hold it.
	receivedAt := c.clock.Now()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, transportError(ctx, what, err)
	}
	if len(body) > maxAnswerBytes {
		return nil, &Error{Class: Retryable, StatusCode: resp.StatusCode, Message: "answer larger than 1 MiB"}
	}
	return &reply{status: resp.StatusCode, body: body, receivedAt: receivedAt}, nil
}

// transportError classifies a failure with no usable answer: all are Retryable, since
// nothing says a person must act. The *url.Error wrapper is dropped so the text does not
// repeat the URL; what remains (dial, TLS, reset, timeout) carries no request data.
func transportError(ctx context.Context, what string, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := what + " failed"
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		msg = what + " canceled"
	case errors.As(err, &ne) && ne.Timeout():
		msg = what + " timed out"
	}
	return &Error{Class: Retryable, Message: msg, Err: err}
}
