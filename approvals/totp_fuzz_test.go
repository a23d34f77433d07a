package approvals

import (
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// FuzzMatchStep checks the TOTP comparison on any typed code and clock:
// it accepts a code exactly when it is the HOTP code (RFC 4226, computed
// here by the hotp package rather than the totp one matchStep uses) of
// the current 30-second step or the one before or after, and names that
// step; anything else, including any code for another secret's steps
// that differs, is refused. Nothing panics.
//
//	scripts/fuzz 60s 'approvals\.FuzzMatchStep$'
func FuzzMatchStep(f *testing.F) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, s := range []struct {
		code string
		unix int64
	}{
		{"123456", 1_700_000_000}, {"000000", 0}, {"", 59}, {"12345", 1}, {"1234567", 1},
		{" 123456", 30}, {"12345a", 90}, {"١٢٣٤٥٦", 1_800_000_000}, {"-12345", -30},
	} {
		f.Add(s.code, s.unix)
	}
	// The right code, at its own step, the steps around it and two away.
	right, err := hotp.GenerateCodeCustom(secret, 1_700_000_000/totpPeriod, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range []int64{0, -30, 30, 60, -61} {
		f.Add(right, 1_700_000_000+d)
	}
	f.Fuzz(func(t *testing.T, code string, unix int64) {
		unix %= 1 << 40 // any time within 35,000 years either side of 1970
		now := time.Unix(unix, 0)
		cur := now.Unix() / totpPeriod
		want, wantOK := int64(0), false
		for d := int64(-totpSkew); d <= totpSkew && !wantOK; d++ {
			c, err := hotp.GenerateCodeCustom(secret, uint64(cur+d), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err == nil && c == code {
				want, wantOK = cur+d, true
			}
		}
		step, ok := matchStep(secret, code, now)
		if ok != wantOK || (ok && step != want) {
			t.Fatalf("matchStep(%q at %d) = %d, %v; the HOTP codes of steps %d±%d say %d, %v", code, unix, step, ok, cur, totpSkew, want, wantOK)
		}
	})
}
