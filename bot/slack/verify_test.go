package slack

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// Slack's worked example from "Verifying requests from Slack".
const (
	docSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	docTimestamp = "1531420618"
	docBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func docHeaders(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set(HeaderTimestamp, ts)
	}
	if sig != "" {
		h.Set(HeaderSignature, sig)
	}
	return h
}

func TestVerifierSlackDocumentedExample(t *testing.T) {
	at := time.Unix(1531420618, 0)
	for _, tc := range []struct {
		name string
		now  time.Time
		ts   string
		sig  string
		body string
		want error
	}{
		{"the example itself", at.Add(30 * time.Second), docTimestamp, docSignature, docBody, nil},
		{"four minutes early clock", at.Add(-4 * time.Minute), docTimestamp, docSignature, docBody, nil},
		{"exactly five minutes later", at.Add(5 * time.Minute), docTimestamp, docSignature, docBody, nil},
		{"six minutes later", at.Add(6 * time.Minute), docTimestamp, docSignature, docBody, ErrStale},
		{"six minutes early clock", at.Add(-6 * time.Minute), docTimestamp, docSignature, docBody, ErrStale},
		{"body changed", at, docTimestamp, docSignature, docBody + "&x=1", ErrBadSignature},
		{"timestamp changed", at, "1531420619", docSignature, docBody, ErrBadSignature},
		{"upper-case hex is the same signature", at, docTimestamp, "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503", docBody, nil},
		{"missing timestamp", at, "", docSignature, docBody, ErrMissingSignature},
		{"missing signature", at, docTimestamp, "", docBody, ErrMissingSignature},
		{"other version", at, docTimestamp, "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", docBody, ErrMalformed},
		{"not hex", at, docTimestamp, "v0=zz114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", docBody, ErrMalformed},
		{"truncated", at, docTimestamp, "v0=a2114d57", docBody, ErrMalformed},
		{"timestamp not a number", at, "yesterday", docSignature, docBody, ErrMalformed},
		{"negative timestamp", at, "-1531420618", docSignature, docBody, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			v, err := NewVerifier(docSecret, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			s, err := v.Verify(docHeaders(tc.ts, tc.sig), []byte(tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err == nil {
				if s.Timestamp.Unix() != 1531420618 || s.Signature != "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503" {
					t.Errorf("Signed = %+v", s)
				}
			}
		})
	}
}

func TestVerifierWrongSecret(t *testing.T) {
	v, err := NewVerifier("another-secret", func() time.Time { return time.Unix(1531420618, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(docHeaders(docTimestamp, docSignature), []byte(docBody)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify = %v, want ErrBadSignature", err)
	}
	if _, err := NewVerifier("", nil); err == nil {
		t.Fatal("NewVerifier accepted an empty secret")
	}
}

// TestReplayWindow: a verified request's signature is remembered for as
// long as the verifier would accept it again, up to its window's edge;
// when the memory is full of live ones, new requests are refused rather
// than an old one forgotten.
func TestReplayWindow(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1_700_000_000, 0)
	now := start
	a, err := New(Config{Mode: ModeHTTP, BotToken: "xoxb-test", SigningSecret: testSecret},
		WithClock(func() time.Time { return now }), WithReplayCapacity(2), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	check := func(sig string, ts time.Time) error {
		s := Signed{Timestamp: ts, Signature: sig}
		return a.firstSeen(ctx, keySignature+s.Signature, a.signatureTTL(s))
	}
	for _, step := range []struct {
		name string
		at   time.Time
		sig  string
		ts   time.Time
		want error
	}{
		{"first", start, "aa", start, nil},
		{"replay within the window", start.Add(time.Minute), "aa", start, ErrReplay},
		{"replay at the window's edge (the verifier still accepts it)", start.Add(SignatureWindow), "aa", start, ErrReplay},
		{"another request", start.Add(SignatureWindow), "bb", start.Add(SignatureWindow), nil},
		{"full of live entries", start.Add(SignatureWindow), "cc", start.Add(SignatureWindow), ErrReplaysFull},
		{"room once the old one expired", start.Add(SignatureWindow + 2*time.Second), "cc", start.Add(SignatureWindow), nil},
	} {
		now = step.at
		if err := check(step.sig, step.ts); !errors.Is(err, step.want) || (step.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", step.name, err, step.want)
		}
	}
}
