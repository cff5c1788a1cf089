package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SalesforceConnectionSpec says how to log in to Salesforce and where to put the token.
//
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.sessionTimeout) || duration(self.renewBefore) < duration(self.sessionTimeout)",message="renewBefore must be shorter than sessionTimeout: the token must be renewed before it expires"
type SalesforceConnectionSpec struct {
	// loginURL is the Salesforce authorization server: https://login.salesforce.com for
	// production orgs, https://test.salesforce.com for sandboxes, or the org's My Domain
	// URL (https://acme.my.salesforce.com; required for clientCredentials). The host must be
	// allowed by the operator's --allowed-login-hosts.
	// +kubebuilder:default="https://login.salesforce.com"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '' && url(self).getEscapedPath() in ['', '/'] && !self.contains('@') && !self.contains('?') && !self.contains('#')",message="loginURL must be an http(s):// URL made of a host and an optional port only (no path, query or user info), such as https://login.salesforce.com"
	// +optional
	LoginURL string `json:"loginURL,omitempty"`

	// auth chooses the OAuth 2.0 flow: exactly one of jwtBearer, password, refreshToken,
	// clientCredentials or deviceLogin. Prefer jwtBearer or clientCredentials: neither
	// uses one of the five approvals Salesforce allows per user and connected app.
	// +required
	Auth AuthSpec `json:"auth"`

	// tokenSecret is the Secret the operator writes the access token to: in the
	// connection's namespace, or for a ClusterSalesforceConnection under the same name in
	// each target namespace. Workloads mount it.
	// +optional
	TokenSecret TokenSecretSpec `json:"tokenSecret,omitempty"`

	// sessionTimeout is the lifetime of an access token: the session timeout of the
	// connected app, else of the user's profile, else of the org (Salesforce's default is
	// 2h). Salesforce does not say it in the token answer, so set it to match your org;
	// between 1m and 24h. Where the credentials allow introspection (a client secret, not
	// the password flow), the operator follows the expiry Salesforce gives instead, and
	// records a SessionTimeoutMismatch event when the two disagree.
	// +kubebuilder:default="2h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="sessionTimeout must be between 1m and 24h, like Salesforce's session timeouts"
	// +optional
	SessionTimeout *metav1.Duration `json:"sessionTimeout,omitempty"`

	// renewBefore is how long before expiry the token is renewed. Default: a third of
	// sessionTimeout. Must be shorter than sessionTimeout.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="renewBefore must be at least 1s"
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// approvalPolicy decides what happens when the operator would make a new approval
	// (deviceLogin) while the user and connected app already hold five in the cluster:
	// Refuse (default) keeps every existing approval; EvictOldest lets Salesforce revoke
	// the oldest one.
	// +kubebuilder:default=Refuse
	// +optional
	ApprovalPolicy ApprovalPolicy `json:"approvalPolicy,omitempty"`

	// rolloutRestartTargets are workloads in the connection's namespace that read the
	// token from environment variables, which never see a renewed value: the operator
	// restarts them (as kubectl rollout restart does) each time the token Secret receives
	// a new token. Each target names one workload, or selects workloads of a kind by label
	// (at most 20 per selector are restarted). Workloads that mount the Secret as files
	// need no restart: the kubelet updates the files.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.name) || self.filter(u, has(u.name) && u.kind == t.kind && u.name == t.name).size() == 1)",message="rolloutRestartTargets must not name the same workload twice"
	// +listType=atomic
	// +optional
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`

	// rolloutRestartMinInterval is the least time between two restarts of
	// rolloutRestartTargets: a token renewed sooner than that after the last restart
	// waits for the interval to end, so renewals on demand cannot restart pods in a loop.
	// Default: 5m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +optional
	RolloutRestartMinInterval *metav1.Duration `json:"rolloutRestartMinInterval,omitempty"`

	// connectedAppName is the connected app's name as Salesforce shows it (Setup → App
	// Manager, the "Connected App Name" column), which OauthToken.AppName holds. When set,
	// the operator asks Salesforce, with the connection's own token, how many approvals
	// (refresh tokens) the user holds for this app anywhere, after each login and at most
	// every approvalCheckInterval, and counts them toward the ApprovalLimit condition.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="connectedAppName must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ConnectedAppName string `json:"connectedAppName,omitempty"`

	// approvalCheckInterval is how often Salesforce is asked for the user's approvals
	// when connectedAppName is set, besides after each login. Default: 1h; at least 5m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m')",message="approvalCheckInterval must be at least 5m"
	// +optional
	ApprovalCheckInterval *metav1.Duration `json:"approvalCheckInterval,omitempty"`

	// verifyInterval turns on a liveness probe of the token: every verifyInterval the
	// operator asks Salesforce's userinfo endpoint whether the token still works. A token
	// revoked early (by an admin, or with its refresh token) is then renewed at once, or
	// reported when it cannot be. Off when unset; at least 5m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m')",message="verifyInterval must be at least 5m"
	// +optional
	VerifyInterval *metav1.Duration `json:"verifyInterval,omitempty"`

	// suspend stops the operator's work on the connection while true: no login and no
	// write to the token Secret (no renewal, no repair of an edited or deleted Secret, no
	// device login poll), no liveness probe, approval check or rollout restart. Status
	// still says what the token Secret holds, with the condition Suspended=True; Ready
	// turns False (reason Suspended) when the token expires meanwhile. Setting it back to
	// false carries on from where it was: a token still valid is kept without a login,
	// else one login gets a new one. Deleting a suspended connection still revokes what
	// deviceLogin obtained.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// RolloutRestartTarget is a workload, or the workloads a label selector chooses, restarted
// when the token changes.
//
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="a rollout restart target sets exactly one of name and selector"
// +kubebuilder:validation:XValidation:rule="!has(self.selector) || (has(self.selector.matchLabels) && size(self.selector.matchLabels) > 0) || (has(self.selector.matchExpressions) && size(self.selector.matchExpressions) > 0)",message="a rollout restart target's selector must have matchLabels or matchExpressions: an empty selector would choose every workload of the kind in the namespace"
type RolloutRestartTarget struct {
	// kind of the workload: Deployment, StatefulSet or DaemonSet (apps/v1), restarted as
	// kubectl rollout restart does, or Rollout (Argo Rollouts, argoproj.io/v1alpha1),
	// restarted as kubectl argo rollouts restart does, by setting spec.restartAt.
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Rollout
	// +required
	Kind string `json:"kind"`

	// name of the workload, in the connection's namespace. Exactly one of name and
	// selector.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`

	// selector chooses the workloads of kind in the connection's namespace by their
	// labels, when the restart is due. Selecting nothing is not an error. At most 20
	// workloads, the first by name, are restarted per selector; a Warning event,
	// RolloutRestartTruncated, says when more matched. Exactly one of name and selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// AuthSpec holds exactly one OAuth 2.0 flow.
//
// +kubebuilder:validation:XValidation:rule="[has(self.jwtBearer), has(self.password), has(self.refreshToken), has(self.clientCredentials), has(self.deviceLogin)].filter(x, x).size() == 1",message="auth must set exactly one of jwtBearer, password, refreshToken, clientCredentials or deviceLogin"
type AuthSpec struct {
	// jwtBearer signs a JWT with the private key of a certificate uploaded to the
	// connected app (OAuth 2.0 JWT bearer flow). No client secret, no refresh token, no
	// approval used up: the flow Salesforce recommends for server-to-server work.
	// Credentials Secret keys: private_key (PEM, RSA), client_id and username unless set here.
	// +optional
	JWTBearer *JWTBearerAuth `json:"jwtBearer,omitempty"`

	// password logs in with a username, password and security token (OAuth 2.0
	// username-password flow). Blocked by default in orgs created since Summer '23 and
	// being deprecated by Salesforce: prefer jwtBearer or clientCredentials.
	// Credentials Secret keys: client_id, client_secret, username, password,
	// security_token (optional, appended to the password).
	// +optional
	Password *PasswordAuth `json:"password,omitempty"`

	// refreshToken exchanges a refresh token obtained elsewhere (OAuth 2.0 refresh token
	// flow). Each refresh token is one of the five approvals Salesforce allows per user
	// and connected app. Credentials Secret keys: refresh_token, client_id, client_secret
	// (optional).
	// +optional
	RefreshToken *RefreshTokenAuth `json:"refreshToken,omitempty"`

	// clientCredentials logs in as the connected app's run-as user (OAuth 2.0 client
	// credentials flow). loginURL must be the org's My Domain URL. Credentials Secret
	// keys: client_id, client_secret.
	// +optional
	ClientCredentials *ClientCredentialsAuth `json:"clientCredentials,omitempty"`

	// deviceLogin obtains a refresh token with the OAuth 2.0 device flow: the operator
	// shows a verification URL and user code in status and in an event, a person approves
	// the app in a browser, and the operator keeps the refresh token in a Secret of its
	// own, in the operator's namespace; from then on it behaves like refreshToken. The
	// new refresh token is an approval: the operator refuses to start when the user and
	// connected app already hold five in the cluster, unless approvalPolicy is EvictOldest.
	// Deleting the connection revokes the refresh token the operator obtained.
	// +optional
	DeviceLogin *DeviceLoginAuth `json:"deviceLogin,omitempty"`
}

// DeviceLoginAuth configures the OAuth 2.0 device flow.
type DeviceLoginAuth struct {
	// clientID is the connected app's consumer key. Overrides the credentials Secret's
	// client_id key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="clientID must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// username is the Salesforce user expected to approve. It lets the operator count the
	// approvals that user already holds for the app before a new one is made.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="username must not contain control characters (such as a newline, tab or NUL)"
	// +required
	Username string `json:"username"`

	// scope requested; default "refresh_token api".
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="scope must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	Scope string `json:"scope,omitempty"`

	// credentialsSecretRef names an optional Secret holding client_id and client_secret
	// (when the connected app requires the secret on refresh).
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`
}

// ApprovalPolicy says what to do when a new approval would evict an existing one.
// +kubebuilder:validation:Enum=Refuse;EvictOldest
type ApprovalPolicy string

const (
	// ApprovalPolicyRefuse refuses to make a sixth approval: no connection is evicted by us.
	ApprovalPolicyRefuse ApprovalPolicy = "Refuse"
	// ApprovalPolicyEvictOldest makes the approval anyway; Salesforce revokes the oldest.
	ApprovalPolicyEvictOldest ApprovalPolicy = "EvictOldest"
)

// SecretReference names a Secret in the connection's namespace, or for a
// ClusterSalesforceConnection in the operator's cluster resource namespace.
type SecretReference struct {
	// name of the Secret, in the connection's namespace (a ClusterSalesforceConnection's
	// is in the operator's cluster resource namespace, --cluster-resource-namespace).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`

	// keys maps a key the operator reads (private_key, client_id, client_secret,
	// username, password, security_token, refresh_token) to the key of this Secret that
	// holds it, so that a Secret made by another tool is used as it is: {private_key:
	// tls.key} reads the JWT key of a cert-manager Secret. Keys not listed are read under
	// their own name. Two keys cannot read the same Secret key.
	// +kubebuilder:validation:MaxProperties=7
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['private_key', 'client_id', 'client_secret', 'username', 'password', 'security_token', 'refresh_token'])",message="keys can only map private_key, client_id, client_secret, username, password, security_token and refresh_token"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self.filter(j, self[j] == self[k]).size() == 1)",message="keys must not map two keys to the same Secret key"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k] == k || !(self[k] in ['private_key', 'client_id', 'client_secret', 'username', 'password', 'security_token', 'refresh_token']) || self[k] in self)",message="keys must not map a key to another key's own name while that key is read under its name: map that key too"
	// +optional
	Keys map[string]SecretKeyName `json:"keys,omitempty"`
}

// SecretKeyName is a key of a Secret's data.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
type SecretKeyName string

// JWTBearerAuth configures the OAuth 2.0 JWT bearer flow.
//
// +kubebuilder:validation:XValidation:rule="!has(self.generateKey) || !self.generateKey || !has(self.credentialsSecretRef.keys) || !('private_key' in self.credentialsSecretRef.keys)",message="with generateKey the operator signs with its own key (Secret <name>-jwt, key tls.key): credentialsSecretRef.keys cannot map private_key"
type JWTBearerAuth struct {
	// clientID is the connected app's consumer key (not a secret). Overrides the
	// credentials Secret's client_id key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="clientID must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// username is the Salesforce username to log in as (the JWT subject). Overrides the
	// credentials Secret's username key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="username must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	Username string `json:"username,omitempty"`

	// audience overrides the JWT aud claim. Default: https://test.salesforce.com when
	// loginURL is test.salesforce.com or a sandbox My Domain, else
	// https://login.salesforce.com. Salesforce never accepts the My Domain URL here; set
	// it only for an Experience Cloud site.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https://[^/?#@]+(/[^?#@]*)?$')",message="audience must be an https:// URL"
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="audience must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	Audience string `json:"audience,omitempty"`

	// credentialsSecretRef names the Secret holding private_key (PEM, RSA, PKCS#1 or
	// PKCS#8), and client_id and username unless the spec sets them; its keys field reads
	// them from other keys, such as a cert-manager Secret's tls.key. With generateKey it
	// needs no private_key, and keys cannot map one.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// generateKey makes the operator create the RSA key and a self-signed certificate
	// itself, in a Secret it owns (<name>-jwt, keys tls.key and tls.crt), and publish the
	// certificate in the ConfigMap <name>-jwt-certificate for the Salesforce admin to
	// upload to the connected app. The private key never leaves its Secret. Until the
	// first login succeeds the connection is AwaitingAdmin, with the admin's steps.
	// +optional
	GenerateKey bool `json:"generateKey,omitempty"`

	// certificateValidity is how long a generated certificate is valid. Default: 2 years
	// (17520h); between 24h and 10 years (87600h). A new key and certificate are made a
	// third of the validity before the end, published next to the current ones, and
	// used once a login with them succeeds.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h') && duration(self) <= duration('87600h')",message="certificateValidity must be between 24h and 87600h (10 years)"
	// +optional
	CertificateValidity *metav1.Duration `json:"certificateValidity,omitempty"`
}

// PasswordAuth configures the OAuth 2.0 username-password flow.
type PasswordAuth struct {
	// clientID is the connected app's consumer key. Overrides the credentials Secret's
	// client_id key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="clientID must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// username is the Salesforce username. Overrides the credentials Secret's username key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="username must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	Username string `json:"username,omitempty"`

	// credentialsSecretRef names the Secret holding client_secret, password,
	// security_token (optional, appended to the password), and client_id and username
	// unless the spec sets them.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// RefreshTokenAuth configures the OAuth 2.0 refresh token flow.
type RefreshTokenAuth struct {
	// clientID is the connected app's consumer key. Overrides the credentials Secret's
	// client_id key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="clientID must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// credentialsSecretRef names the Secret holding refresh_token, client_id unless the
	// spec sets it, and client_secret if the connected app requires it. When Salesforce
	// rotates the refresh token, the operator keeps the current one in a Secret of its
	// own, in the operator's namespace, shared by every connection that holds the same
	// token; put a new refresh_token in this Secret to start over.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// ClientCredentialsAuth configures the OAuth 2.0 client credentials flow.
type ClientCredentialsAuth struct {
	// clientID is the connected app's consumer key. Overrides the credentials Secret's
	// client_id key.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\p{Cc}')",message="clientID must not contain control characters (such as a newline, tab or NUL)"
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// credentialsSecretRef names the Secret holding client_secret, and client_id unless
	// the spec sets it.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// TokenSecretSpec configures the Secret that receives the access token.
type TokenSecretSpec struct {
	// name of the token Secret. Default: <connection name>-token.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`

	// template shapes the token Secret beyond its fixed keys: extra keys rendered from the
	// token, and labels and annotations (for example Reloader's).
	// +optional
	Template *TokenSecretTemplate `json:"template,omitempty"`

	// deletionPolicy says what becomes of the token Secret when the connection is
	// deleted. Delete (the default) gives the Secret an owner reference to the connection,
	// so that it goes with it. Orphan gives it none: the Secret stays, and a connection
	// created again with the same token Secret name takes it over without a login while
	// its token is valid, provided the operator wrote it (its seal holds) for the same
	// inputs (login URL, flow, client, user and credentials), and it is not a deviceLogin
	// connection, whose deletion revokes the token. Changing it on a live connection adds
	// or removes the owner reference.
	// +optional
	DeletionPolicy TokenSecretDeletionPolicy `json:"deletionPolicy,omitempty"`

	// namespaceSelector selects, by their labels, the namespaces that receive the token
	// Secret of a ClusterSalesforceConnection; a SalesforceConnection refuses it (its
	// token stays in its own namespace). An empty selector ({}) selects every namespace;
	// unset selects none, and namespaces alone names the targets.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// namespaces names namespaces that receive the token Secret of a
	// ClusterSalesforceConnection, besides those namespaceSelector selects: the target set
	// is the union of both. A namespace that does not exist yet receives the Secret when
	// it is created. A SalesforceConnection refuses it.
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	Namespaces []NamespaceName `json:"namespaces,omitempty"`
}

// TokenSecretDeletionPolicy is what becomes of the token Secret when its connection goes.
// +kubebuilder:validation:Enum=Delete;Orphan
type TokenSecretDeletionPolicy string

const (
	// DeletionPolicyDelete: the token Secret is owned by the connection and deleted with it.
	DeletionPolicyDelete TokenSecretDeletionPolicy = "Delete"
	// DeletionPolicyOrphan: the token Secret has no owner and stays after the connection.
	DeletionPolicyOrphan TokenSecretDeletionPolicy = "Orphan"
)

// TokenSecretTemplate adds keys, labels and annotations to the token Secret. The fixed
// keys (access_token, instance_url, token_type, issued_at, expires_at, id, org_id,
// user_id) are always written and cannot be replaced.
type TokenSecretTemplate struct {
	// metadata adds labels and annotations to the token Secret. The operator's own
	// (app.kubernetes.io/managed-by, salesforce.sfconn.io/*) cannot be set.
	// +optional
	Metadata TemplateMetadata `json:"metadata,omitempty"`

	// data maps extra keys of the token Secret to Go templates (text/template) rendered
	// each time the token changes. Fields: .AccessToken, .InstanceURL, .TokenType,
	// .IssuedAt, .ExpiresAt (RFC 3339), .IssuedAtUnix, .ExpiresAtUnix, .ID, .OrgID, .UserID,
	// .Name and .Namespace (of the connection). Functions: json
	// (a JSON value), quote (a double-quoted string), upper, lower, trimPrefix, trimSuffix,
	// replace, b64enc. A template holds only these, string and number literals, and
	// pipelines: no if, range, with, define, template, block, variables or other functions.
	// A key renders at most 64 KiB, all keys together at most 256 KiB. Example:
	// {"SALESFORCE_INSTANCE_URL": "{{ .InstanceURL }}"}.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[-._a-zA-Z0-9]+$') && size(k) <= 253)",message="data keys must be valid Secret keys: letters, digits, '-', '_' and '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['access_token', 'instance_url', 'token_type', 'issued_at', 'expires_at', 'id', 'org_id', 'user_id']))",message="data cannot replace the token Secret's fixed keys (access_token, instance_url, token_type, issued_at, expires_at, id, org_id, user_id)"
	// +optional
	Data map[string]TemplateText `json:"data,omitempty"`
}

// The maximum length is what lets the API server accept the rule below: a CEL rule's
// estimated cost grows with the longest string it may read, and without a maxLength that
// is the whole request. The rule refuses the actions a regular expression sees; the
// operator refuses the rest (another function, a variable, nesting too deep) when it
// checks the template, with Ready=False, reason InvalidSpec.

// TemplateText is a Go template (text/template) of at most 16384 characters.
// +kubebuilder:validation:MaxLength=16384
// +kubebuilder:validation:XValidation:rule="!self.matches(r'\\{\\{-?\\s*(range|if|with|define|template|block)\\b')",message="a data template cannot use {{range}}, {{if}}, {{with}}, {{define}}, {{template}} or {{block}}: it holds only text, fields such as .AccessToken, string and number literals, and the functions json, quote, upper, lower, trimPrefix, trimSuffix, replace and b64enc, alone or in pipelines"
type TemplateText string

// TemplateMetadata is labels and annotations for the token Secret.
type TemplateMetadata struct {
	// labels to put on the token Secret.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'app.kubernetes.io/managed-by' && !k.startsWith('salesforce.sfconn.io/'))",message="labels cannot set the operator's own keys (app.kubernetes.io/managed-by, salesforce.sfconn.io/*)"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations to put on the token Secret.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('salesforce.sfconn.io/'))",message="annotations cannot set the operator's own keys (salesforce.sfconn.io/*)"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// SalesforceConnectionStatus is what the operator observed and did.
type SalesforceConnectionStatus struct {
	// observedGeneration is the generation of the spec the status describes. It reads 0
	// until the operator has seen the connection, so kstatus (Flux) and Argo CD report a
	// new connection as in progress rather than assume it reconciled.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// instanceURL is the org's API base URL from the last token answer.
	// +optional
	InstanceURL string `json:"instanceURL,omitempty"`

	// orgID is the Salesforce org id (00D...) of the token.
	// +optional
	OrgID string `json:"orgID,omitempty"`

	// userID is the Salesforce user id (005...) of the token.
	// +optional
	UserID string `json:"userID,omitempty"`

	// issuedAt is when Salesforce issued the token in the token Secret.
	// +optional
	IssuedAt *metav1.Time `json:"issuedAt,omitempty"`

	// expiresAt is when that token expires: what Salesforce's introspection said, or else
	// issuedAt plus sessionTimeout (see expirySource).
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// expirySource says where expiresAt came from: Introspection (Salesforce's own answer
	// for this token) or SessionTimeout (spec.sessionTimeout, when the token cannot be
	// introspected: the password flow, or no client secret).
	// +optional
	ExpirySource ExpirySource `json:"expirySource,omitempty"`

	// renewAt is when the operator renews the token: expiresAt minus renewBefore, minus a
	// jitter of up to 10% of renewBefore for each connection.
	// +optional
	RenewAt *metav1.Time `json:"renewAt,omitempty"`

	// tokenSecretName is the Secret holding the token.
	// +optional
	TokenSecretName string `json:"tokenSecretName,omitempty"`

	// principal is who the token speaks for: the org, connected app and user. Connections
	// with the same principal share Salesforce's limit of five approvals.
	// +optional
	Principal *Principal `json:"principal,omitempty"`

	// approval identifies the approval (refresh token) this connection holds, if its flow
	// uses one. Connections sharing a refresh token hold the same approval.
	// +optional
	Approval *ApprovalRef `json:"approval,omitempty"`

	// approvals is what the cluster holds for this principal, for refreshToken and
	// deviceLogin connections, and with spec.connectedAppName for every flow what
	// Salesforce holds.
	// +optional
	Approvals *ApprovalsSummary `json:"approvals,omitempty"`

	// deviceLogin shows what a person must do to approve a device login.
	// +optional
	DeviceLogin *DeviceLoginStatus `json:"deviceLogin,omitempty"`

	// jwtCertificate describes the certificate of a generated JWT key
	// (spec.auth.jwtBearer.generateKey), which a Salesforce admin uploads to the
	// connected app.
	// +optional
	JWTCertificate *GeneratedCertificate `json:"jwtCertificate,omitempty"`

	// lastHandledReconcileAt echoes the reconcile.fluxcd.io/requestedAt annotation the
	// operator last acted on: setting the annotation to a new value (flux reconcile, or
	// kubectl annotate) renews the token at once.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// lastFailure describes the last failed login while no login has succeeded since; it
	// keeps backoff and "wait for a change" across operator restarts.
	// +optional
	LastFailure *LoginFailure `json:"lastFailure,omitempty"`

	// credentialsMissing records since when the credentials Secret has been missing: it
	// is waited for during the operator's --credentials-grace-period (Flux or External
	// Secrets may create it after the connection) before the connection is Stalled.
	// +optional
	CredentialsMissing *MissingSecret `json:"credentialsMissing,omitempty"`

	// rolloutRestart records the restarts of spec.rolloutRestartTargets.
	// +optional
	RolloutRestart *RolloutRestartStatus `json:"rolloutRestart,omitempty"`

	// conditions are Ready (the token Secret holds a valid token), Reconciling (a retry
	// is scheduled), Stalled (a person must act), Expiring (the renewal is late, or the
	// token expired), Revoked (Salesforce rejected the refresh token), ApprovalLimit (the
	// user and connected app's approvals against Salesforce's five), RefreshTokenUnsaved
	// (a rotated refresh token is held in memory only) and Suspended (spec.suspend is
	// true). Reconciling, Stalled, Expiring, Revoked, RefreshTokenUnsaved and Suspended are
	// present only while True. docs/conditions-and-events.md lists every reason.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MissingSecret is a Secret the connection needs and did not find.
type MissingSecret struct {
	// name of the Secret.
	Name string `json:"name"`
	// since is when the operator first found it missing under this name.
	Since metav1.Time `json:"since"`
}

// RolloutRestartStatus records which token the rolloutRestartTargets run with.
type RolloutRestartStatus struct {
	// tokenIssuedAt is the issue time of the token the targets were last restarted for,
	// or found running with when they were first named.
	TokenIssuedAt metav1.Time `json:"tokenIssuedAt"`
	// lastRestartTime is when the operator last restarted the targets.
	// +optional
	LastRestartTime *metav1.Time `json:"lastRestartTime,omitempty"`
}

// Principal is an org, connected app and user.
type Principal struct {
	// orgID is the Salesforce org id (00D...).
	OrgID string `json:"orgID"`
	// clientID is the connected app's consumer key.
	ClientID string `json:"clientID"`
	// userID is the Salesforce user id (005...).
	UserID string `json:"userID"`
	// username, when known.
	// +optional
	Username string `json:"username,omitempty"`
}

// ApprovalRef identifies an approval without revealing its refresh token.
type ApprovalRef struct {
	// id is a keyed hash of the refresh token the approval was granted as (the first of
	// a rotation chain): equal ids mean the same approval.
	ID string `json:"id"`
	// since is when this connection first held the approval.
	Since metav1.Time `json:"since"`
	// mintedByOperator is true when the operator obtained the refresh token (deviceLogin)
	// and so revokes it when the connection is deleted.
	// +optional
	MintedByOperator bool `json:"mintedByOperator,omitempty"`
}

// ExpirySource is where a token's expiry came from.
// +kubebuilder:validation:Enum=Introspection;SessionTimeout
type ExpirySource string

const (
	// ExpirySourceIntrospection: Salesforce's introspection endpoint gave the token's exp.
	ExpirySourceIntrospection ExpirySource = "Introspection"
	// ExpirySourceSessionTimeout: issuedAt plus spec.sessionTimeout.
	ExpirySourceSessionTimeout ExpirySource = "SessionTimeout"
)

// ApprovalsSummary counts the approvals the cluster holds for a principal, and, when
// spec.connectedAppName is set, those Salesforce holds.
type ApprovalsSummary struct {
	// count of distinct approvals held by connections in the cluster.
	Count int32 `json:"count"`
	// limit Salesforce enforces per user and connected app.
	Limit int32 `json:"limit"`
	// holders are the connections holding them, as namespace/name (a
	// ClusterSalesforceConnection as ClusterSalesforceConnection/name), oldest approval
	// first.
	// +optional
	Holders []string `json:"holders,omitempty"`
	// salesforce is what Salesforce itself reports (spec.connectedAppName set): approvals
	// made anywhere, in the cluster or not.
	// +optional
	Salesforce *SalesforceApprovals `json:"salesforce,omitempty"`
}

// SalesforceApprovals is a user's approvals for a connected app, from Salesforce's
// OauthToken object. It never holds a token.
type SalesforceApprovals struct {
	// appName is the connected app name the count is for (spec.connectedAppName).
	AppName string `json:"appName"`
	// count of approvals Salesforce holds for the user and connected app; absent when the
	// last check failed (see message).
	// +optional
	Count *int32 `json:"count,omitempty"`
	// checkedAt is when Salesforce was last asked.
	CheckedAt metav1.Time `json:"checkedAt"`
	// oldest lists the oldest approvals, first the one the next new approval evicts.
	// +kubebuilder:validation:MaxItems=5
	// +optional
	Oldest []SalesforceApproval `json:"oldest,omitempty"`
	// message says why the count is unknown, or what it means.
	// +optional
	Message string `json:"message,omitempty"`
}

// SalesforceApproval is one OauthToken record.
type SalesforceApproval struct {
	// id of the OauthToken record (0CJ...), not a token.
	ID string `json:"id"`
	// createdDate is when the approval was made.
	CreatedDate metav1.Time `json:"createdDate"`
	// lastUsedDate is when it was last used, if ever.
	// +optional
	LastUsedDate *metav1.Time `json:"lastUsedDate,omitempty"`
	// useCount is how many times it was used.
	// +optional
	UseCount int32 `json:"useCount,omitempty"`
}

// GeneratedCertificate is a published certificate of a generated JWT key. It names where
// the key and certificate are; it never holds the key.
type GeneratedCertificate struct {
	// secretName is the Secret holding the key (tls.key) and certificate (tls.crt).
	SecretName string `json:"secretName"`
	// configMapName is the ConfigMap with the certificate to hand to the Salesforce admin.
	ConfigMapName string `json:"configMapName"`
	// fingerprint is the SHA-256 fingerprint of the certificate in use.
	Fingerprint string `json:"fingerprint"`
	// notAfter is when that certificate ends.
	NotAfter metav1.Time `json:"notAfter"`
	// nextFingerprint is the fingerprint of the next certificate, published next to the
	// current one before it ends; it becomes current once a login with it succeeds.
	// +optional
	NextFingerprint string `json:"nextFingerprint,omitempty"`
	// nextNotAfter is when the next certificate ends.
	// +optional
	NextNotAfter *metav1.Time `json:"nextNotAfter,omitempty"`
}

// DeviceLoginStatus is a pending device login.
type DeviceLoginStatus struct {
	// verificationURI is the page where the user enters userCode.
	VerificationURI string `json:"verificationURI"`
	// userCode is the code to enter; it is short-lived and useless without the user's
	// own Salesforce login.
	UserCode string `json:"userCode"`
	// expiresAt is when the code expires; the operator starts over after it.
	ExpiresAt metav1.Time `json:"expiresAt"`
}

// LoginFailure records a failed login and the inputs it was made with.
type LoginFailure struct {
	// time of the last failed attempt.
	Time metav1.Time `json:"time"`

	// count of consecutive failed attempts with the same inputs.
	Count int32 `json:"count"`

	// reason is the Ready condition reason the failure gave.
	Reason string `json:"reason"`

	// class says what follows from the failure: Terminal and Revoked wait for a change of
	// the spec or the credentials; Retryable and RateLimited are tried again after a
	// backoff that grows with count; WaitingForPerson is tried again on a steady schedule.
	// Empty (written by an older operator) counts as Retryable.
	// +kubebuilder:validation:Enum=Terminal;Revoked;Retryable;RateLimited;WaitingForPerson
	// +optional
	Class string `json:"class,omitempty"`

	// requested is set when the attempt was asked for with a new value of the
	// reconcile.fluxcd.io/requestedAt annotation, which goes past a backoff once: another
	// request waits for this failure's backoff. It never goes past a rate limit.
	// +optional
	Requested bool `json:"requested,omitempty"`

	// message says what failed, in words a person can act on.
	// +optional
	Message string `json:"message,omitempty"`

	// observedGeneration is the spec generation the attempt used.
	ObservedGeneration int64 `json:"observedGeneration"`

	// credentialsResourceVersion is the resourceVersion of the credentials Secret the
	// attempt used (empty when it did not exist). A change means someone acted: try again.
	// +optional
	CredentialsResourceVersion string `json:"credentialsResourceVersion,omitempty"`
}

// SalesforceConnection is a login to Salesforce kept alive by the operator: it writes the
// access token and instance URL to a Secret that workloads mount, and renews it before it
// expires.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sfconn,categories=salesforce
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Principal",type=string,JSONPath=`.status.principal.username`,priority=1
// +kubebuilder:printcolumn:name="Approvals",type=integer,JSONPath=`.status.approvals.count`,priority=1
type SalesforceConnection struct {
	metav1.TypeMeta `json:",inline"`

	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// The spec is shared with ClusterSalesforceConnection, whose fields saying where the
	// token goes a namespaced connection, confined to its namespace, refuses.
	// +kubebuilder:validation:XValidation:rule="!has(self.tokenSecret) || (!has(self.tokenSecret.namespaceSelector) && !has(self.tokenSecret.namespaces))",message="tokenSecret.namespaceSelector and tokenSecret.namespaces are for a ClusterSalesforceConnection: a SalesforceConnection writes its token Secret in its own namespace only"
	// +required
	Spec SalesforceConnectionSpec `json:"spec"`

	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status SalesforceConnectionStatus `json:"status,omitempty"`
}

// SalesforceConnectionList is a list of SalesforceConnection.
//
// +kubebuilder:object:root=true
type SalesforceConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SalesforceConnection `json:"items"`
}
