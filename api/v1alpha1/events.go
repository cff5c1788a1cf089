package v1alpha1

// Event reasons are API too: alerts and `kubectl get events --field-selector reason=...`
// select on them. They live here, beside the condition reasons, so that one list feeds the
// controller, docs/conditions-and-events.md (make api-docs) and the test that every reason
// the controller records is documented. Each comment starts with the event's type, then
// says when it is recorded; besides these, a failed login records a Warning event whose
// reason is the Ready reason it gives (see the condition reasons), and a device login
// records a Normal event AwaitingApproval for each code it asks for.

// Events of logins and of the token Secret.
const (
	// EventTokenIssued: Normal. A login someone asked for (the
	// reconcile.fluxcd.io/requestedAt annotation, kubectl sfconn renew) gave the connection
	// its first token, written to the token Secret. A routine login records no event; the
	// Ready condition and status say when the token was issued.
	EventTokenIssued = ReasonTokenIssued
	// EventTokenRenewed: Normal. A renewal someone asked for (the
	// reconcile.fluxcd.io/requestedAt annotation, kubectl sfconn renew) succeeded and the new
	// token was written to the token Secret. A routine renewal records no event.
	EventTokenRenewed = "TokenRenewed"
	// EventReady: Normal. Ready turned True again after it was False.
	EventReady = "Ready"
	// EventTokenRestored: Normal. The token Secret was deleted or edited by someone else,
	// and the operator wrote the current token back without a login.
	EventTokenRestored = "TokenRestored"
	// EventTokenSecretAdopted: Normal. A new connection took over an ownerless token
	// Secret that a deleted connection with deletionPolicy Orphan left, written for the same
	// inputs: no login.
	EventTokenSecretAdopted = "TokenSecretAdopted"
	// EventTokenRejected: Warning. Salesforce refused the token of the token Secret before
	// its expiry (spec.verifyInterval found it revoked, or its session ended): the operator
	// renews at once.
	EventTokenRejected = "TokenRejected"
	// EventSessionTimeoutMismatch: Warning. Salesforce's introspection gives the token a
	// lifetime other than spec.sessionTimeout; the operator follows Salesforce, and the
	// note says which sessionTimeout to set.
	EventSessionTimeoutMismatch = "SessionTimeoutMismatch"
)

// Events of device logins and approvals.
const (
	// EventDeviceLoginWrongUser: Warning. A device login was approved by another user than
	// spec.auth.deviceLogin.username; the operator revokes that token and asks for a new code.
	EventDeviceLoginWrongUser = "DeviceLoginWrongUser"
	// EventApprovalLimitAtLimit: Warning. The ApprovalLimit condition turned AtLimit: the
	// cluster holds five approvals for the user and connected app.
	EventApprovalLimitAtLimit = "ApprovalLimitAtLimit"
	// EventApprovalLimitWithinLimit: Normal. The ApprovalLimit condition went back from
	// True to WithinLimit.
	EventApprovalLimitWithinLimit = "ApprovalLimitWithinLimit"
	// EventApprovalRevoked: Normal. A deviceLogin connection was deleted and the operator
	// revoked the refresh token it obtained for it.
	EventApprovalRevoked = "ApprovalRevoked"
	// EventRevocationFailed: Warning. A deviceLogin connection was deleted and Salesforce
	// did not revoke its refresh token within a minute: it is still an approval; revoke it
	// in Salesforce.
	EventRevocationFailed = "RevocationFailed"
)

// Events of rollout restarts (spec.rolloutRestartTargets).
const (
	// EventRolloutRestarted: Normal. The targets were restarted for a new token.
	EventRolloutRestarted = "RolloutRestarted"
	// EventRolloutRestartTruncated: Warning. A target's selector matched more than 20
	// workloads; only the first 20 by name were restarted.
	EventRolloutRestartTruncated = "RolloutRestartTruncated"
	// EventRolloutRestartFailed: Warning. A target could not be restarted: it does not
	// exist, the cluster does not serve its kind, or the API server refused the patch.
	EventRolloutRestartFailed = "RolloutRestartFailed"
	// EventRolloutRestartDisabled: Warning. A restart was due, but the operator runs
	// without --enable-rollout-restarts; recorded once per token.
	EventRolloutRestartDisabled = "RolloutRestartDisabled"
)
