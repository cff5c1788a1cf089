package salesforce

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxAnswerBytes bounds what we read from the token endpoint. A real answer is under
// 2 KiB; anything near the limit is a misbehaving proxy, not Salesforce.
const maxAnswerBytes = 1 << 20

// postToken is the one request all grants share: a form POST to the token endpoint, read
// and classified here, where status, body and transport error are all still at hand.
func (c *HTTPClient) postToken(ctx context.Context, tokenURL string, grant Grant, form url.Values) (*Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		// tokenURL was built from a validated URL; this is a bug or a nil context.
		return nil, &Error{Class: Terminal, Message: "building the token request"}
	}
	// A form body is what Salesforce parses; a JSON body gets unsupported_grant_type.
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	// The answer's time is when its headers arrived: Salesforce's clock may differ, and
	// the token is only good from the moment we hold it.
	receivedAt := c.clock.Now()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if len(body) > maxAnswerBytes {
		return nil, &Error{Class: Retryable, StatusCode: resp.StatusCode, Message: "answer larger than 1 MiB"}
	}

	if resp.StatusCode == http.StatusOK {
		return parseTokenAnswer(body, receivedAt)
	}
	return nil, classifyFailure(grant, resp.StatusCode, body)
}

// transportError classifies a failure with no usable answer: all are Retryable, since
// nothing says a person must act. The *url.Error wrapper is dropped so the text does not
// repeat the URL; what remains (dial, TLS, reset, timeout) carries no request data.
func transportError(ctx context.Context, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := "token request failed"
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		msg = "token request canceled"
	case errors.As(err, &ne) && ne.Timeout():
		msg = "token request timed out"
	}
	return &Error{Class: Retryable, Message: msg, Err: err}
}
