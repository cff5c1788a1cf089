// Package salesforce is the operator's OAuth 2.0 client for Salesforce: one function per
// grant (JWT bearer, username-password, refresh token, client credentials) against
// <loginURL>/services/oauth2/token, with every failure classified where it is made. It
// also runs the device flow (to bootstrap a refresh token with a person's approval),
// revokes tokens, asks userinfo whose an access token is, asks the introspection endpoint
// whether a token is alive and when it expires, lists a user's approvals of a connected
// app with a REST API query of OauthToken, and reads an instance's REST API versions and
// its org's limits (for the kubectl plugin's test command).
//
// Salesforce departs from RFC 6749 in ways that shape this package (see
// docs/salesforce-behaviour.md): the token answer carries no expires_in, issued_at is a
// string of epoch milliseconds (and is absent from JWT answers), every token-endpoint error
// is an HTTP 400 whose error_description says what happened, and logins are capped per user
// per hour. golang.org/x/oauth2 models none of that (a token without Expiry is "valid
// forever", its auto-detected auth style retries a failed login, and it has no JWT bearer
// grant signed by golang-jwt), so the token endpoint is called directly here through one
// small function that all grants share.
package salesforce
