package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// refreshPolicy is a parsed ConnectedAppOauthPolicy.refreshTokenPolicy
// (docs/salesforce-behaviour.md#refresh-token-policies).
type refreshPolicy struct {
	kind string // "infinite", "zero", "specific_lifetime" or "specific_inactivity"
	n    int
	unit string // HOURS, DAYS, MONTHS (+ MINUTES, SECONDS as emulator extensions)
}

func parseRefreshTokenPolicy(s string) (refreshPolicy, error) {
	// Third-party metadata shows SPECIFIC_LIFETIME in upper case; whether Salesforce cares is
	// unknown (docs/salesforce-behaviour.md#refresh-token-policies), so any case is accepted.
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), ":")
	switch parts[0] {
	case "", "infinite":
		if len(parts) == 1 {
			return refreshPolicy{kind: "infinite"}, nil
		}
	case "zero":
		if len(parts) == 1 {
			return refreshPolicy{kind: "zero"}, nil
		}
	case "specific_lifetime", "specific_inactivity":
		if len(parts) == 3 {
			n, err := strconv.Atoi(parts[1])
			unit := strings.ToUpper(parts[2])
			switch unit {
			case "HOURS", "DAYS", "MONTHS", "MINUTES", "SECONDS":
			default:
				err = fmt.Errorf("unknown unit")
			}
			if err == nil && n > 0 {
				return refreshPolicy{kind: parts[0], n: n, unit: unit}, nil
			}
		}
	}
	return refreshPolicy{}, fmt.Errorf("refreshTokenPolicy %q: want infinite, zero, specific_lifetime:N:HOURS|DAYS|MONTHS or specific_inactivity:N:HOURS|DAYS|MONTHS", s)
}

func (p refreshPolicy) add(t time.Time) time.Time {
	switch p.unit {
	case "SECONDS":
		return t.Add(time.Duration(p.n) * time.Second)
	case "MINUTES":
		return t.Add(time.Duration(p.n) * time.Minute)
	case "HOURS":
		return t.Add(time.Duration(p.n) * time.Hour)
	case "DAYS":
		return t.AddDate(0, 0, p.n)
	default:
		return t.AddDate(0, p.n, 0)
	}
}

// expiry says when a refresh token stops working. "zero" tokens are dead from issue: "The
// refresh token is invalid immediately"
// (docs/salesforce-behaviour.md#refresh-token-policies). specific_lifetime counts from the
// approval (the start of a rotation chain: rotation keeps the approval, whether it restarts
// the lifetime is unknown); specific_inactivity slides with each use.
func (p refreshPolicy) expiry(created, lastUsed time.Time) (time.Time, bool) {
	switch p.kind {
	case "zero":
		return created, true
	case "specific_lifetime":
		return p.add(created), true
	case "specific_inactivity":
		return p.add(lastUsed), true
	}
	return time.Time{}, false
}
