package emulator

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// jsonContentType and cacheControl are what a captured Salesforce token answer carries
// (Salesforce StackExchange 207685,
// docs/salesforce-behaviour.md#token-errors-http-400-with-error-and-error_description); the
// emulator sends them on successes and errors alike.
const (
	jsonContentType = "application/json;charset=UTF-8"
	cacheControl    = "no-cache,must-revalidate,max-age=0,no-store,private"
)

// maxBodyBytes bounds request bodies; token requests are a few kilobytes at most.
const maxBodyBytes = 1 << 20

type hostKind int

const (
	hostMyDomain hostKind = iota
	hostLogin
)

func (e *Emulator) newMux(host hostKind) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/services/oauth2/token", e.instrument(EndpointToken, func(w http.ResponseWriter, r *http.Request, info *RequestRecord) {
		e.serveToken(w, r, host, info)
	}))
	mux.HandleFunc("/services/oauth2/revoke", e.instrument(EndpointRevoke, e.serveRevoke))
	mux.HandleFunc("/services/oauth2/introspect", e.instrument(EndpointIntrospect, e.serveIntrospect))
	mux.HandleFunc("/services/oauth2/userinfo", e.instrument(EndpointUserInfo, e.serveUserInfo))
	mux.HandleFunc("/services/data", e.instrument(EndpointData, e.serveData))
	mux.HandleFunc("/services/data/", e.instrument(EndpointData, e.serveData))
	mux.HandleFunc("/id/", e.instrument(EndpointIdentity, e.serveIdentity))
	if e.adminAPI {
		mux.Handle("/_emulator/", e.adminHandler())
	}
	return mux
}

// recorder remembers the status sent, for the request log. Unwrap lets
// http.ResponseController reach the connection for the reset fault.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument logs every request of an endpoint; the handler fills in what it learns.
func (e *Emulator) instrument(endpoint string, h func(http.ResponseWriter, *http.Request, *RequestRecord)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		info := &RequestRecord{Endpoint: endpoint, Method: r.Method}
		defer func() {
			info.Status = rec.status
			e.record(*info)
		}()
		h(rec, r, info)
	}
}

// fault applies an injected fault and reports whether the request is finished.
func (e *Emulator) fault(w http.ResponseWriter, r *http.Request, info *RequestRecord) bool {
	done, kind := e.applyFault(w, r, info.Endpoint, info.ClientID)
	info.Fault = kind
	return done
}

// oauthError is an OAuth error answer. Every token-endpoint error found is HTTP 400 with
// {"error","error_description"}
// (docs/salesforce-behaviour.md#token-errors-http-400-with-error-and-error_description).
type oauthError struct {
	status      int
	code        string
	description string
}

func (o *oauthError) Error() string { return o.code + ": " + o.description }

func newOAuthError(code, description string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, description: description}
}

// The error answers of docs/salesforce-behaviour.md#error-strings-and-their-classes, with
// Salesforce's wording.
var (
	errAuthFailure      = newOAuthError("invalid_grant", "authentication failure")
	errExpiredToken     = newOAuthError("invalid_grant", "expired access/refresh token")
	errNotApproved      = newOAuthError("invalid_grant", "user hasn't approved this consumer")
	errInvalidAssertion = newOAuthError("invalid_grant", "invalid assertion")
	errAudience         = newOAuthError("invalid_grant", "audience is invalid")
	errExpiredCode      = newOAuthError("invalid_grant", "expired authorization code")
	errRateExceeded     = newOAuthError("invalid_grant", "login rate exceeded")
	errWrongDomain      = newOAuthError("invalid_grant", "request not supported on this domain")
	errNoRunAsUser      = newOAuthError("invalid_grant", "no client credentials user enabled")
	errInvalidCode      = newOAuthError("invalid_grant", "invalid authorization code")
	errInvalidDevice    = newOAuthError("invalid_grant", "invalid device code")
	errClientID         = newOAuthError("invalid_client_id", "client identifier invalid")
	errClientSecret     = newOAuthError("invalid_client", "invalid client credentials")
	errUnsupportedGrant = newOAuthError("unsupported_grant_type", "grant type not supported")
	errGrantMissing     = newOAuthError("invalid_request", "grant type is missing")
	errMustPost         = newOAuthError("invalid_request", "must use HTTP POST")
	errInactiveUser     = newOAuthError("inactive_user", "user is inactive")
	errNotAdminApproved = newOAuthError("invalid_app_access", "user is not admin approved to access this app")
	errPending          = newOAuthError("authorization_pending", "authorization pending")
	errInvalidToken     = newOAuthError("invalid_token", "invalid token")
)

// restError is a REST API (/services/data) error answer. Unlike the OAuth endpoints'
// object, the REST API answers a JSON array of {message, errorCode}
// (docs/salesforce-behaviour.md#rest-api-401-invalid_session_id), and clients key on
// errorCode.
type restError struct {
	status  int
	code    string
	message string
}

func (r *restError) Error() string { return r.code + ": " + r.message }

var (
	errInvalidSession = &restError{http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid"}
	errNotFound       = &restError{http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist"}
)

// writeRESTError logs only the errorCode, since a query's message quotes parts of the query.
func writeRESTError(w http.ResponseWriter, info *RequestRecord, err *restError) {
	info.Error = err.code
	writeJSON(w, err.status, []map[string]string{{"message": err.message, "errorCode": err.code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Cache-Control", cacheControl)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeOAuthError(w http.ResponseWriter, info *RequestRecord, err *oauthError) {
	info.Error = err.Error()
	writeJSON(w, err.status, map[string]string{"error": err.code, "error_description": err.description})
}

// readForm returns the form-encoded body of a POST. Salesforce reads form bodies only: a
// JSON body gets unsupported_grant_type. Multipart bodies are accepted because the
// Salesforce Postman collection sends the device request that way. Query parameters are
// ignored: secrets belong in the body
// (docs/salesforce-behaviour.md#form-encoded-request-bodies).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	switch mt {
	case "application/x-www-form-urlencoded":
		if r.ParseForm() != nil {
			return nil, false
		}
	case "multipart/form-data":
		if r.ParseMultipartForm(maxBodyBytes) != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	return r.PostForm, true
}

// clientAuth reads client_id and client_secret from the body or, failing that, from an HTTP
// Basic header: both are accepted for client credentials and introspection
// (docs/salesforce-behaviour.md#client-credentials-only-on-my-domain,
// docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires).
func clientAuth(form url.Values, r *http.Request) (id, secret string) {
	id, secret = form.Get("client_id"), form.Get("client_secret")
	if id == "" {
		if u, p, ok := r.BasicAuth(); ok {
			return u, p
		}
	}
	return id, secret
}

// bearer reads the access token of an Authorization header ("Bearer" or Salesforce's older
// "OAuth" scheme).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) instanceURL(org *Org, r *http.Request) string {
	switch {
	case org != nil && org.InstanceURL != "":
		return org.InstanceURL
	case e.defaultInstanceURL != "":
		return e.defaultInstanceURL
	}
	return baseURL(r)
}

// identityURL is on test.salesforce.com for sandboxes and login.salesforce.com otherwise,
// whatever the instance URL
// (docs/salesforce-behaviour.md#the-identity-url-names-the-org-and-the-user).
func identityURL(org *Org, u *User) string {
	host := "login.salesforce.com"
	if org != nil && org.Sandbox {
		host = "test.salesforce.com"
	}
	return "https://" + host + "/id/" + u.OrgID + "/" + u.ID
}
