package salesforce

import "testing"

func TestComputeSignatureMatchesOpenSSL(t *testing.T) {
	if got := ComputeSignature("client-secret", sampleID, sampleIssuedAt); got != sampleSignature {
		t.Errorf("ComputeSignature = %q, want %q", got, sampleSignature)
	}
}

func TestVerifySignature(t *testing.T) {
	tests := []struct {
		name                            string
		secret, id, issuedAt, signature string
		want                            bool
	}{
		{"valid", "client-secret", sampleID, sampleIssuedAt, sampleSignature, true},
		{"wrong secret", "other-secret", sampleID, sampleIssuedAt, sampleSignature, false},
		{"id changed", "client-secret", "https://login.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAV", sampleIssuedAt, sampleSignature, false},
		{"issued_at changed", "client-secret", sampleID, "1609942615641", sampleSignature, false},
		{"not base64", "client-secret", sampleID, sampleIssuedAt, "not base64!", false},
		{"truncated", "client-secret", sampleID, sampleIssuedAt, sampleSignature[:20], false},
		{"empty signature", "client-secret", sampleID, sampleIssuedAt, "", false},
		{"empty secret", "", sampleID, sampleIssuedAt, ComputeSignature("", sampleID, sampleIssuedAt), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.secret, tt.id, tt.issuedAt, tt.signature); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}
