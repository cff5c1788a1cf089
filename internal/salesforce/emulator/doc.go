// Package emulator is an in-process emulator of Salesforce's OAuth 2.0 endpoints, used by
// the unit, envtest and e2e tests and by the demo. It follows docs/salesforce-behaviour.md,
// whose sections the comments below cite by anchor; where Salesforce's behaviour is only
// assumed there, the choice made is noted next to the code. It deliberately does not import
// the operator's client package, so that it checks the client rather than agreeing with it.
//
// # Model
//
// Orgs, connected apps and users (see Org, ConnectedApp, User) are set with New's options
// or at run time with Apply, Replace, PutOrg, PutApp, PutUser and SetUserActive. An admin
// setting up a JWT bearer client
// (docs/salesforce-behaviour.md#jwt-bearer-needs-a-prior-approval) is played one step at a
// time, each changing a single setting of an existing app: SetAppCertificate,
// SetAdminApproved and SetPreAuthorized. An app needs neither a secret nor a certificate to
// exist, so a JWT-only app ({"clientId":"…","flows":["jwt"]}) can be created first and get
// its certificate later; until then its assertions fail with invalid_grant / invalid
// assertion. All time comes from the clock of WithClock, so a test with a fake clock can
// outlive a two-hour session in microseconds.
//
// Every login mints a new, independent access token ("<15-char org ID>!<opaque>") that
// lives for the session timeout (app → user profile → org,
// docs/salesforce-behaviour.md#lifetime-is-the-session-timeout), extended by REST and
// userinfo calls (an inactivity timeout). Refresh tokens are approvals
// (docs/salesforce-behaviour.md#five-approvals-per-user-per-connected-app): at most five
// live per user and app, the sixth evicting the oldest with its access tokens. Refresh
// token policies (docs/salesforce-behaviour.md#refresh-token-policies) and rotation with
// replay detection (docs/salesforce-behaviour.md#refresh-token-rotation-and-replay) are
// modelled. Logins are capped per user per rolling hour
// (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour).
//
// # Endpoints
//
// Handler serves a My Domain host and LoginHostHandler the generic login host
// (login.salesforce.com / test.salesforce.com, where client credentials are refused,
// docs/salesforce-behaviour.md#client-credentials-only-on-my-domain); both share one state.
//
//	POST /services/oauth2/token       password, refresh_token, JWT bearer, client_credentials,
//	                                  authorization_code, device (and response_type=device_code)
//	POST|GET /services/oauth2/revoke  token=…
//	POST /services/oauth2/introspect  client auth (Basic or body), token=…
//	GET|POST /services/oauth2/userinfo  Bearer token; 403 "Bad_OAuth_Token" when dead
//	GET /id/<orgId>/<userId>          identity URL; 403 "Bad_OAuth_Token" when dead
//	GET /services/data/[vNN.N/]       versions and resources; 401 INVALID_SESSION_ID when dead
//	GET /services/data/vNN.N/limits   limits by name, {Max, Remaining}; DailyApiRequests counts
//	                                  the org's /services/data calls of the last 24 hours
//	GET /services/data/vNN.N/query?q=SELECT <fields> FROM OauthToken [WHERE …] [ORDER BY …] [LIMIT n]
//	                                  live approvals as OauthToken rows (Id, AppName, CreatedDate,
//	                                  LastUsedDate, UseCount, UserId): the caller's own, or the
//	                                  org's with User.CustomizeApplication; WHERE AppName|UserId
//	                                  = '…' joined by AND, ORDER BY CreatedDate|LastUsedDate;
//	                                  other objects 400 INVALID_TYPE, other SOQL 400 MALFORMED_QUERY
//
// /services/oauth2/authorize is not emulated: AuthorizationCode, ApproveDevice and
// IssueRefreshToken stand for the user's browser.
//
// # Admin API
//
// Both handlers also serve a JSON admin API for the standalone binary (cmd/salesforce-emulator),
// e2e tests and the demo. Errors are 400 {"error": "..."}. Request bodies reject unknown
// fields. GET /_emulator/state returns secrets: the emulator is a test double, never expose
// it beyond a test network.
//
//	GET    /_emulator/state                 → State {orgs, apps, users}
//	POST   /_emulator/state                 State: add or replace the entries given → State
//	PUT    /_emulator/state                 State: replace the whole model → State
//	POST   /_emulator/users/active          {"username","active"}
//	POST   /_emulator/apps/certificate      {"clientId","certificatePEM"}: upload the app's X.509
//	                                        certificate, replacing any key; "" removes it
//	POST   /_emulator/apps/preauthorized    {"clientId","username","authorized"}: (un)assign the
//	                                        user's profile or permission set
//	POST   /_emulator/apps/admin-approved   {"clientId","adminApproved"}: Permitted Users policy
//	GET    /_emulator/faults                → [Fault] (count = uses left)
//	POST   /_emulator/faults                Fault {endpoint,count,status,body,contentType,delay,malformed,reset}
//	DELETE /_emulator/faults                clear all faults
//	GET    /_emulator/approvals?clientId=&username=   → [Approval] (no tokens)
//	POST   /_emulator/approvals/revoke      {"id"} | {"token"} | {"clientId","username"} → {"revoked": n}
//	POST   /_emulator/refresh-tokens        {"clientId","username"} → {"refreshToken"}
//	POST   /_emulator/authorization-codes   {"clientId","username","codeChallenge"?} → {"code"}
//	POST   /_emulator/device/approve        {"userCode","username"}
//	GET    /_emulator/stats                 → Stats (counters and request log, no secrets)
//	POST   /_emulator/stats/reset           → Stats (zeroed)
//
// Durations (sessionTimeout, delay, …) are Go duration strings such as "2h" or "250ms".
package emulator
