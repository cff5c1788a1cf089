package v1alpha1

// Condition types of a SalesforceConnection.
const (
	// ConditionReady is True when the token Secret holds a token that is valid now and
	// the connection is configured correctly.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is obtaining or renewing a token
	// (kstatus: present only while True).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a person: bad spec or credentials, a
	// revoked refresh token (kstatus: present only while True).
	ConditionStalled = "Stalled"
	// ConditionExpiring is True when the renewal time has passed and no new token was
	// obtained yet.
	ConditionExpiring = "Expiring"
	// ConditionRevoked is True when Salesforce rejected the refresh token as revoked.
	ConditionRevoked = "Revoked"
	// ConditionApprovalLimit is True when the user and connected app hold five approvals.
	ConditionApprovalLimit = "ApprovalLimit"
	// ConditionRefreshTokenUnsaved is True while a rotated refresh token of the
	// connection's chain is held in the operator's memory only: the API server failed to
	// store it, and a restart of the operator now would lose it (present only while True).
	ConditionRefreshTokenUnsaved = "RefreshTokenUnsaved"
	// ConditionSuspended is True while spec.suspend is true: the operator neither logs in
	// nor writes the token Secret (present only while True). Ready keeps describing the
	// token in the Secret.
	ConditionSuspended = "Suspended"
)

// Reasons of the Ready, Reconciling and Stalled conditions.
const (
	// ReasonTokenIssued: the token Secret holds a valid token.
	ReasonTokenIssued = "TokenIssued"
	// ReasonInvalidSpec: the spec cannot work as written (a login host that is not
	// allowed, a token Secret that belongs to someone else).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonCredentialsNotFound: the credentials Secret, or a key it must hold, is missing.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonInvalidCredentials: the credentials Secret holds a value that cannot be used,
	// such as a PEM that is not an RSA private key.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonAuthenticationFailed: Salesforce refused the credentials.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonRevoked: Salesforce rejected the refresh token as revoked or expired.
	ReasonRevoked = "Revoked"
	// ReasonApprovalLimitReached: a new approval would evict another one.
	ReasonApprovalLimitReached = "ApprovalLimitReached"
	// ReasonSalesforceUnavailable: Salesforce could not be reached or answered with an
	// error that is retried with backoff.
	ReasonSalesforceUnavailable = "SalesforceUnavailable"
	// ReasonRateLimited: the user's login quota (3,600 per hour) is spent; the operator
	// waits before it tries again.
	ReasonRateLimited = "RateLimited"
	// ReasonExpired: the token in the token Secret has expired.
	ReasonExpired = "Expired"
	// ReasonAwaitingAdmin: a generated JWT certificate is not yet registered in Salesforce.
	ReasonAwaitingAdmin = "AwaitingAdmin"
	// ReasonAwaitingApproval: a device login waits for a person to approve it.
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonClusterError: the API server refused or failed one of the operator's reads or
	// writes (RBAC, an admission webhook, an outage); the operator tries again with backoff.
	ReasonClusterError = "ClusterError"
	// ReasonSuspended: spec.suspend is true. The reason of the Suspended condition, and of
	// Ready=False when the token Secret holds no valid token meanwhile.
	ReasonSuspended = "Suspended"
)

// Reasons of the Expiring condition.
const (
	// ReasonRenewalFailing: the renewal time has passed and renewing has failed so far;
	// the token in the Secret is still valid.
	ReasonRenewalFailing = "RenewalFailing"
	// ReasonExpiredToken is the Expiring reason when the token has expired (same value as
	// ReasonExpired).
	ReasonExpiredToken = ReasonExpired
)

// Reasons of the Revoked condition.
const (
	// ReasonRefreshTokenRevoked: Salesforce answered invalid_grant to a refresh.
	ReasonRefreshTokenRevoked = "RefreshTokenRevoked"
)

// Reasons of the RefreshTokenUnsaved condition.
const (
	// ReasonStoreFailed: storing the rotated refresh token failed; it is stored before the
	// chain's next refresh.
	ReasonStoreFailed = "StoreFailed"
)

// Reasons of the ApprovalLimit condition.
const (
	// ReasonAtLimit: five approvals are held; the next evicts the oldest.
	ReasonAtLimit = "AtLimit"
	// ReasonExceeded: a new approval was refused to protect the existing ones.
	ReasonExceeded = "Exceeded"
	// ReasonWithinLimit: fewer than five approvals are held.
	ReasonWithinLimit = "WithinLimit"
)

// AnnotationRequestedAt asks for a renewal when set to a new value (Flux's convention).
const AnnotationRequestedAt = "reconcile.fluxcd.io/requestedAt"
