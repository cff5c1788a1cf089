package authflow

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// refusedBy is what a flow makes of an error a login returned.
func refusedBy(t *testing.T, conn *sfv1.SalesforceConnection, err error) error {
	t.Helper()
	flow, fl := For(conn)
	if fl != nil {
		t.Fatal(fl)
	}
	switch f := flow.(type) {
	case *generatedKey:
		return f.refused(err)
	case *jwtBearer:
		return f.refused(err, "")
	}
	t.Fatalf("unexpected flow %T", flow)
	return nil
}

func TestGeneratedKeyRefusalsWaitForTheAdmin(t *testing.T) {
	generated := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "billing"},
		Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true, Username: "int@acme.com",
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}}}
	own := generated.DeepCopy()
	own.Spec.Auth.JWTBearer.GenerateKey = false
	refused := func(code, desc string) error {
		return &salesforce.Error{Class: salesforce.Terminal, StatusCode: 400, Code: code, Description: desc}
	}
	tests := []struct {
		name   string
		conn   *sfv1.SalesforceConnection
		err    error
		reason string
		step   string // what an AwaitingAdmin message names
	}{
		{"unknown consumer key: the app", generated, refused("invalid_client_id", "client identifier invalid"), sfv1.ReasonAwaitingAdmin, "step 1"},
		{"invalid assertion: the certificate", generated, refused("invalid_grant", "invalid assertion"), sfv1.ReasonAwaitingAdmin, "step 2"},
		{"not approved: the user's pre-authorization", generated, refused("invalid_grant", "user hasn't approved this consumer"), sfv1.ReasonAwaitingAdmin, "step 3"},
		{"another refusal still waits for the admin", generated, refused("invalid_grant", "audience is invalid"), sfv1.ReasonAwaitingAdmin, "admin-instructions"},
		{"an outage is not an admin step", generated, &salesforce.Error{Class: salesforce.Retryable, StatusCode: 503}, sfv1.ReasonSalesforceUnavailable, ""},
		{"a key of one's own: the usual AuthenticationFailed", own, refused("invalid_grant", "invalid assertion"), sfv1.ReasonAuthenticationFailed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := failure.As(refusedBy(t, tt.conn, tt.err))
			if fl == nil || fl.Reason != tt.reason {
				t.Fatalf("failure = %+v, want reason %s", fl, tt.reason)
			}
			if tt.step == "" {
				return
			}
			if fl.Class != failure.WaitingForPerson || !fl.RetryAt.IsZero() {
				t.Fatalf("AwaitingAdmin = %+v, want a person waited for on the steady schedule", fl)
			}
			if !strings.Contains(fl.Message, tt.step) || !strings.Contains(fl.Message, "kubectl sfconn admin-instructions crm -n billing") ||
				!strings.Contains(fl.Message, "every 5m") {
				t.Fatalf("message %q lacks %q, the plugin command or the retry interval", fl.Message, tt.step)
			}
		})
	}

	// The API server's failures are not Salesforce's refusals.
	apiErr := errors.New("secrets is forbidden")
	if got := refusedBy(t, generated, apiErr); !errors.Is(got, apiErr) || failure.As(got) != nil {
		t.Fatalf("an API server error became %v", got)
	}

	text := AdminInstructions(generated, nil)
	for _, want := range []string{"billing/crm", "int@acme.com", "1. Create the connected app", "2. In the connected app, tick \"Use digital signatures\"",
		"crm-jwt-certificate", "3. In the connected app's policies"} {
		if !strings.Contains(text, want) {
			t.Errorf("instructions lack %q:\n%s", want, text)
		}
	}
}
