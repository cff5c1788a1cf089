package v1alpha1

// Condition types of a SalesforceConnection.
const (
	// ConditionReady is True (reason TokenIssued) when the token Secret holds a token that
	// is valid now. While a renewal fails for a temporary reason it stays True as long as
	// that token is valid, and its message says when the next attempt is. False gives the
	// reason of the failure.
	ConditionReady = "Ready"
	// ConditionReconciling is True while a retry, or the next poll of a device login, is
	// scheduled; its reason is the Ready reason of the failure that is retried
	// (SalesforceUnavailable, RateLimited, AwaitingApproval, AwaitingAdmin, ClusterError,
	// CredentialsNotFound within the grace period) and its message gives the time. Present
	// only while True (kstatus).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a person to change the spec, the
	// credentials Secret or Salesforce; its reason is the Ready reason (InvalidSpec,
	// CredentialsNotFound, InvalidCredentials, AuthenticationFailed, Revoked,
	// ApprovalLimitReached, Suspended). The operator does not log in again until the spec
	// or the credentials Secret changes. Present only while True (kstatus).
	ConditionStalled = "Stalled"
	// ConditionExpiring is True when the renewal time has passed without a new token
	// (RenewalFailing), or the token in the Secret has expired (Expired). Present only
	// while True.
	ConditionExpiring = "Expiring"
	// ConditionRevoked is True when Salesforce rejected the refresh token as revoked or
	// expired; the message lists the likely causes, the five-approval limit first. Present
	// only while True.
	ConditionRevoked = "Revoked"
	// ConditionApprovalLimit counts the approvals (refresh tokens) of the user and connected
	// app: False (WithinLimit) below five, True (AtLimit) at five, when the next approval
	// made anywhere revokes the oldest, or True (Exceeded) when a device login was refused
	// for making a sixth. Present on refreshToken and deviceLogin connections once the user
	// is known, and on every flow with spec.connectedAppName.
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
	// ReasonTokenIssued: the token Secret holds a valid token (Ready=True).
	ReasonTokenIssued = "TokenIssued"
	// ReasonInvalidSpec: the spec cannot work as written (a login host that is not
	// allowed, a token Secret that belongs to someone else).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonCredentialsNotFound: the credentials Secret, or a key it must hold, is missing.
	// A missing Secret is waited for during the operator's --credentials-grace-period
	// (Reconciling), then the connection is Stalled.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonInvalidCredentials: the credentials Secret holds a value that cannot be used,
	// such as a PEM that is not an RSA private key.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonAuthenticationFailed: Salesforce refused the login; the message quotes
	// Salesforce's error.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonRevoked: Salesforce rejected the refresh token as revoked or expired.
	ReasonRevoked = "Revoked"
	// ReasonApprovalLimitReached: a device login would make a sixth approval for the user
	// and connected app, and spec.approvalPolicy is Refuse; the message lists the five.
	ReasonApprovalLimitReached = "ApprovalLimitReached"
	// ReasonSalesforceUnavailable: Salesforce could not be reached or answered with an
	// error that is retried with backoff.
	ReasonSalesforceUnavailable = "SalesforceUnavailable"
	// ReasonRateLimited: the user's login quota (3,600 per hour) is spent; the operator
	// waits before it tries again.
	ReasonRateLimited = "RateLimited"
	// ReasonExpired: the token in the token Secret has expired.
	ReasonExpired = "Expired"
	// ReasonAwaitingAdmin: a connection with a generated JWT key waits for a Salesforce
	// admin (the certificate is not uploaded, the app or the user's pre-authorization is
	// missing); it tries again every 5 minutes and the message names the step left.
	ReasonAwaitingAdmin = "AwaitingAdmin"
	// ReasonAwaitingApproval: a device login waits for a person to approve its code; the
	// message gives the URL, the code and its expiry.
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
	// ReasonExpiredToken: the token in the Secret has expired (the same word as the Ready
	// reason Expired).
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
