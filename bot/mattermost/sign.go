package mattermost

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Keys of a button's integration context. Mattermost keeps the context on
// the server (it is stripped from posts sent to clients) and returns it
// verbatim in the callback, next to the post_id, channel_id and user_id it
// fills in itself. Mattermost does not sign callbacks: the HMAC under
// ctxSig is what proves the context came from this bot and belongs to
// this post. It says nothing about the clicker: anyone holding a copy of
// the context could post it with any user_id, which is why callbacks are
// taken only from the server's addresses (sources.go) and the user is
// confirmed with the API (clicker.go).
const (
	ctxRequest = "request_id"
	ctxAction  = "action"
	ctxSig     = "sig"
)

// sigVersion prefixes signatures, so that the scheme can change without
// old buttons being mistaken for new ones.
const sigVersion = "v1."

// signer makes and checks button HMACs. The key is derived from the
// configured secret for this one purpose, so the same secret could never
// produce a MAC that is valid elsewhere.
type signer struct{ key []byte }

func newSigner(secret string) signer {
	return deriveSigner(secret, "gitlab-chatops mattermost button context v1")
}

// deriveSigner is a signer whose key is the secret's HMAC over purpose.
func deriveSigner(secret, purpose string) signer {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return signer{key: m.Sum(nil)}
}

// sign binds a request ID and an action to the post and channel that carry
// the button: a context copied onto another post, another channel or
// another request no longer verifies.
func (s signer) sign(requestID, action, postID, channelID string) string {
	return sigVersion + base64.RawURLEncoding.EncodeToString(s.mac(requestID, action, postID, channelID))
}

func (s signer) verify(sig, requestID, action, postID, channelID string) bool {
	raw, ok := strings.CutPrefix(sig, sigVersion)
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(requestID, action, postID, channelID))
}

// mac writes each field with its length first, so that no two different
// tuples share an input (("ab","c") and ("a","bc") differ).
func (s signer) mac(fields ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [binary.MaxVarintLen64]byte
	for _, f := range fields {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

// actions renders buttons as attachment actions whose context carries the
// request ID, the action and the HMAC binding both to b.
func (a *Adapter) actions(bs []bot.Button, b binding) []*model.PostAction {
	out := make([]*model.PostAction, 0, len(bs))
	for _, bt := range bs {
		style := string(bt.Style)
		if style == "" {
			style = "default"
		}
		out = append(out, &model.PostAction{
			Id:    bt.ActionID,
			Type:  model.PostActionTypeButton,
			Name:  bt.Label,
			Style: style,
			Integration: &model.PostActionIntegration{
				URL: a.cfg.CallbackURL,
				Context: map[string]any{
					ctxRequest: bt.Value,
					ctxAction:  bt.ActionID,
					ctxSig:     a.signer.sign(bt.Value, bt.ActionID, b.postID, b.channelID),
				},
			},
		})
	}
	return out
}

// checkButtons refuses buttons Mattermost would not route back to us: the
// click endpoint matches action IDs against [A-Za-z0-9]+ and 404s the rest.
func checkButtons(bs []bot.Button) error {
	seen := map[string]bool{}
	for _, bt := range bs {
		if !isAlnum(bt.ActionID) || len(bt.ActionID) > 64 {
			return fmt.Errorf("mattermost: button action ID %q must be 1 to 64 letters and digits, or Mattermost cannot route its clicks", bt.ActionID)
		}
		if seen[bt.ActionID] {
			return fmt.Errorf("mattermost: two buttons share the action ID %q", bt.ActionID)
		}
		seen[bt.ActionID] = true
		if strings.TrimSpace(bt.Label) == "" || bt.Value == "" || len(bt.Value) > 256 {
			return fmt.Errorf("mattermost: button %q needs a label and a value of at most 256 bytes", bt.ActionID)
		}
	}
	return nil
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
