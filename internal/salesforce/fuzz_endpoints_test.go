package salesforce

import (
	"testing"
	"time"
)

// fixedParseErrors are the only texts a parser of a 200 body may return: the bodies hold a
// device code or an access token's owner, so nothing from them may reach an error.
func fixedParseErrors(extra ...string) map[string]bool {
	allowed := map[string]bool{}
	for _, m := range []string{"HTML answer", "empty answer", "malformed JSON answer", "non-JSON answer"} {
		allowed[m+" (status 200)"] = true
	}
	for _, m := range extra {
		allowed[m] = true
	}
	return allowed
}

func checkFixedError(t *testing.T, err error, allowed map[string]bool) {
	t.Helper()
	e, ok := err.(*Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
	if !ok || e.Class != Retryable || e.Code != "" || e.Description != "" || e.Err != nil || !allowed[e.Message] {
		t.Fatalf("unexpected error %#v", err)
	}
}

func FuzzParseDeviceAnswer(f *testing.F) {
	for _, seed := range []string{
		deviceStartAnswer,
		`{"device_code":"d","user_code":"u","verification_uri":"v","interval":"7","expires_in":1e400}`,
		`{"device_code":"d","user_code":"u","verification_uri":"v","interval":-1,"expires_in":99999999999999999999}`,
		`{"device_code":"d"}`, `<html></html>`, `null`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	allowed := fixedParseErrors("malformed answer: no device_code", "malformed answer: no user_code", "malformed answer: no verification_uri")
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDeviceAnswer(body, testNow)
		if err != nil {
			checkFixedError(t, err, allowed)
			return
		}
		if d.DeviceCode == "" || d.UserCode == "" || d.VerificationURI == "" {
			t.Fatalf("authorization without its codes: %+v", d)
		}
		if d.Interval < time.Second || d.Interval > maxDeviceInterval {
			t.Fatalf("Interval %v outside [1s, %v]", d.Interval, maxDeviceInterval)
		}
		if !d.ExpiresAt.After(testNow) || d.ExpiresAt.Sub(testNow) > maxDeviceLifetime {
			t.Fatalf("ExpiresAt %v outside (now, now+%v]", d.ExpiresAt, maxDeviceLifetime)
		}
	})
}

func FuzzParseUserInfo(f *testing.F) {
	for _, seed := range []string{userInfoAnswerSample, `{"user_id":""}`, `{"user_id":1}`, `<html></html>`, `null`, ``} {
		f.Add([]byte(seed))
	}
	allowed := fixedParseErrors("malformed answer: no user_id")
	f.Fuzz(func(t *testing.T, body []byte) {
		ui, err := parseUserInfo(body)
		if err != nil {
			checkFixedError(t, err, allowed)
			return
		}
		if ui.UserID == "" {
			t.Fatal("user info without user_id")
		}
	})
}

func FuzzParseRESTVersions(f *testing.F) {
	for _, seed := range []string{versionsSample, `[{"version":"9999.9999"},{"version":"0.0"}]`, `[{"version":"1e3"}]`, `[]`, `{}`, `null`, ``} {
		f.Add([]byte(seed))
	}
	allowed := fixedParseErrors("malformed answer: no API version listed")
	f.Fuzz(func(t *testing.T, body []byte) {
		versions, err := parseRESTVersions(body)
		if err != nil {
			checkFixedError(t, err, allowed)
			return
		}
		if len(versions) == 0 {
			t.Fatal("no versions and no error")
		}
		for i, v := range versions {
			if !versionPattern.MatchString(v.Version) || !printable(v.Label) {
				t.Fatalf("version %+v not checked", v)
			}
			if i > 0 && versionLess(v.Version, versions[i-1].Version) {
				t.Fatalf("versions not sorted: %+v", versions)
			}
		}
	})
}

func FuzzParseLimits(f *testing.F) {
	for _, seed := range []string{limitsSample, `{"A":{"Max":1e400,"Remaining":1}}`, `{"A":{"Max":-1,"Remaining":9223372036854775807}}`, `{}`, `null`, `[]`, ``} {
		f.Add([]byte(seed))
	}
	allowed := fixedParseErrors("malformed answer: no limit listed")
	f.Fuzz(func(t *testing.T, body []byte) {
		limits, err := parseLimits(body)
		if err != nil {
			checkFixedError(t, err, allowed)
			return
		}
		if len(limits) == 0 {
			t.Fatal("no limits and no error")
		}
		for name := range limits {
			if name == "" || !printable(name) {
				t.Fatalf("limit name %q not checked", name)
			}
		}
	})
}
