package mattermost

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// dialogState is what an interactive dialog's state carries: the form's
// action and opaque value (what the submission becomes), the channel it
// was opened in (where answers go), the user it was opened for, the field
// on which a refusal is shown, when it stops being accepted, and a nonce
// that makes it usable for one accepted submission. Mattermost returns
// the state verbatim in the submission, which it does not sign: the HMAC
// is what proves the state came from this bot unaltered.
type dialogState struct {
	Action  string `json:"a"`
	Value   string `json:"v"`
	Channel string `json:"c"`
	User    string `json:"u"`
	Field   string `json:"f,omitempty"`
	Expires int64  `json:"e"` // Unix seconds
	Nonce   string `json:"n"`
}

// stateVersion prefixes sealed states, so the scheme can change without
// old dialogs being mistaken for new ones.
const stateVersion = "v1."

// newStateSigner derives the dialog state's key from the action secret,
// for this one purpose: a button's MAC can never pass for a state's.
func newStateSigner(secret string) signer {
	return deriveSigner(secret, "gitlab-chatops mattermost dialog state v1")
}

// seal is st as a dialog's state: version, the JSON, and the HMAC over it.
func (s signer) seal(st dialogState) (string, error) {
	if st.Nonce == "" {
		var n [16]byte
		if _, err := rand.Read(n[:]); err != nil {
			return "", fmt.Errorf("mattermost: a nonce for a dialog: %w", err)
		}
		st.Nonce = hex.EncodeToString(n[:])
	}
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("mattermost: dialog state: %w", err)
	}
	return stateVersion + base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.mac(string(b))), nil
}

// unseal checks a state's HMAC, then its expiry at now; the error says
// which failed, for the audit trail, and never repeats the state.
func (s signer) unseal(state string, now time.Time) (dialogState, error) {
	rest, ok := strings.CutPrefix(state, stateVersion)
	if !ok {
		return dialogState{}, errors.New("dialog submission without a state of this bot")
	}
	body, sig, ok := strings.Cut(rest, ".")
	raw, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(got, s.mac(string(raw))) {
		return dialogState{}, errors.New("dialog submission whose state does not match its signature (forged or altered)")
	}
	var st dialogState
	if err := json.Unmarshal(raw, &st); err != nil {
		return dialogState{}, errors.New("dialog submission with a signed but unreadable state")
	}
	if st.Action == "" || st.Value == "" || st.User == "" || st.Nonce == "" {
		return dialogState{}, errors.New("dialog submission whose state lacks an action, value, user or nonce")
	}
	if !now.Before(time.Unix(st.Expires, 0)) {
		return dialogState{}, fmt.Errorf("dialog submission after its state expired at %s", time.Unix(st.Expires, 0).UTC().Format(time.RFC3339))
	}
	return st, nil
}

// usedStates remembers the nonces of dialog states until they expire, so
// a state is accepted for one submission: a refused one (a wrong code)
// releases it and the user may correct the dialog and submit again; an
// accepted one keeps it, and the same state sent again is a replay. It is
// bounded: full of live entries, it refuses rather than let a replay by.
type usedStates struct {
	mu  sync.Mutex
	max int
	m   map[string]time.Time // nonce -> when it may be forgotten
}

func newUsedStates(max int) *usedStates {
	return &usedStates{max: max, m: map[string]time.Time{}}
}

// errReplayed: a dialog state, or the very same submission, came again.
var errReplayed = errors.New("dialog submission replayed")

// errStatesFull: too many live dialogs to remember another.
var errStatesFull = errors.New("too many open dialogs to check this one against replays")

// claim takes st's nonce for one submission in flight, or says why not.
func (u *usedStates) claim(st dialogState, now time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.m[st.Nonce]; ok {
		return fmt.Errorf("%w (its state was already used, or is being used now)", errReplayed)
	}
	if len(u.m) >= u.max {
		for n, until := range u.m {
			if !now.Before(until) {
				delete(u.m, n)
			}
		}
		if len(u.m) >= u.max {
			return errStatesFull
		}
	}
	u.m[st.Nonce] = time.Unix(st.Expires, 0)
	return nil
}

// release gives a claimed nonce back (the submission was refused).
func (u *usedStates) release(st dialogState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, st.Nonce)
}
