package emulator

import (
	"encoding/json"
	"errors"
	"net/http"
)

// adminHandler serves the /_emulator/ API described in the package documentation. It is a
// test-control surface: it is never faulted and never logged in the request log.
func (e *Emulator) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, e.State())
	})
	mux.HandleFunc("POST /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		var s State
		if decode(w, r, &s) {
			adminResult(w, e.Apply(s), func() any { return e.State() })
		}
	})
	mux.HandleFunc("PUT /_emulator/state", func(w http.ResponseWriter, r *http.Request) {
		var s State
		if decode(w, r, &s) {
			adminResult(w, e.Replace(s), func() any { return e.State() })
		}
	})
	mux.HandleFunc("POST /_emulator/users/active", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Username string `json:"username"`
			Active   bool   `json:"active"`
		}
		if decode(w, r, &in) {
			adminResult(w, e.SetUserActive(in.Username, in.Active), func() any { return struct{}{} })
		}
	})
	// The app routes take pointers so that a forgotten field is an error rather than a
	// removal: a missing certificatePEM or authorized would otherwise read as "" or false.
	mux.HandleFunc("POST /_emulator/apps/certificate", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID       string  `json:"clientId"`
			CertificatePEM *string `json:"certificatePEM"`
		}
		if !decode(w, r, &in) {
			return
		}
		err := errors.New(`certificatePEM is required ("" removes the certificate)`)
		if in.CertificatePEM != nil {
			err = e.SetAppCertificate(in.ClientID, *in.CertificatePEM)
		}
		adminResult(w, err, func() any { return struct{}{} })
	})
	mux.HandleFunc("POST /_emulator/apps/preauthorized", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID   string `json:"clientId"`
			Username   string `json:"username"`
			Authorized *bool  `json:"authorized"`
		}
		if !decode(w, r, &in) {
			return
		}
		err := errors.New("authorized is required (true or false)")
		if in.Authorized != nil {
			err = e.SetPreAuthorized(in.ClientID, in.Username, *in.Authorized)
		}
		adminResult(w, err, func() any { return struct{}{} })
	})
	mux.HandleFunc("POST /_emulator/apps/admin-approved", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID      string `json:"clientId"`
			AdminApproved *bool  `json:"adminApproved"`
		}
		if !decode(w, r, &in) {
			return
		}
		err := errors.New("adminApproved is required (true or false)")
		if in.AdminApproved != nil {
			err = e.SetAdminApproved(in.ClientID, *in.AdminApproved)
		}
		adminResult(w, err, func() any { return struct{}{} })
	})
	mux.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, e.Faults())
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if decode(w, r, &f) {
			adminResult(w, e.InjectFault(f), func() any { return e.Faults() })
		}
	})
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		adminJSON(w, http.StatusOK, e.Faults())
	})
	mux.HandleFunc("GET /_emulator/approvals", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		list := e.Approvals(q.Get("clientId"), q.Get("username"))
		if list == nil {
			list = []Approval{}
		}
		adminJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("POST /_emulator/approvals/revoke", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID       string `json:"id"`
			ClientID string `json:"clientId"`
			Username string `json:"username"`
			Token    string `json:"token"`
		}
		if !decode(w, r, &in) {
			return
		}
		n := 0
		var err error
		switch {
		case in.ID != "":
			if err = e.RevokeApproval(in.ID); err == nil {
				n = 1
			}
		case in.Token != "":
			if e.RevokeToken(in.Token) {
				n = 1
			}
		case in.ClientID != "" || in.Username != "":
			n = e.RevokeApprovals(in.ClientID, in.Username)
		default:
			err = errors.New("set id, token, or clientId and/or username")
		}
		adminResult(w, err, func() any { return map[string]int{"revoked": n} })
	})
	mux.HandleFunc("POST /_emulator/refresh-tokens", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID string `json:"clientId"`
			Username string `json:"username"`
		}
		if decode(w, r, &in) {
			token, err := e.IssueRefreshToken(in.ClientID, in.Username)
			adminResult(w, err, func() any { return map[string]string{"refreshToken": token} })
		}
	})
	mux.HandleFunc("POST /_emulator/authorization-codes", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClientID      string `json:"clientId"`
			Username      string `json:"username"`
			CodeChallenge string `json:"codeChallenge"`
		}
		if decode(w, r, &in) {
			code, err := e.AuthorizationCodeWithPKCE(in.ClientID, in.Username, in.CodeChallenge)
			adminResult(w, err, func() any { return map[string]string{"code": code} })
		}
	})
	mux.HandleFunc("POST /_emulator/device/approve", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			UserCode string `json:"userCode"`
			Username string `json:"username"`
		}
		if decode(w, r, &in) {
			adminResult(w, e.ApproveDevice(in.UserCode, in.Username), func() any { return struct{}{} })
		}
	})
	mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST /_emulator/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetStats()
		adminJSON(w, http.StatusOK, e.Stats())
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()})
		return false
	}
	return true
}

// adminResult answers 400 {"error": …} on err, else 200 with the value ok builds.
func adminResult(w http.ResponseWriter, err error, ok func() any) {
	if err != nil {
		adminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	adminJSON(w, http.StatusOK, ok())
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
