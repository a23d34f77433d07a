package approvalstest

import (
	"time"

	"github.com/pquerna/otp/totp"
)

// WrongCode is a six-digit code that the Service refuses for secret at
// now: it matches none of the steps it accepts (the current 30 s step and
// the one on either side), so a test of wrong codes never skips or
// passes by chance.
func WrongCode(secret string, now time.Time) string {
	taken := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		if c, err := totp.GenerateCode(secret, now.Add(d)); err == nil {
			taken[c] = true
		}
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !taken[c] {
			return c
		}
	}
	return "444444" // unreachable: three steps take at most three of the four above
}
