package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Replay-check refusals.
var (
	ErrReplay = errors.New("request already seen (replay)")
	// ErrReplaysFull: the per-process memory (bot.MemorySeen) is full of
	// unexpired keys.
	ErrReplaysFull = bot.ErrSeenFull
	// ErrReplayCheck: the shared memory (etcd) could not be asked; the
	// request is refused rather than risk handling a replay.
	ErrReplayCheck = errors.New("replay check unavailable")
)

// Once-only keys, by kind: a verified request's signature lives as long
// as the verifier accepts it (SignatureWindow either side of now, plus a
// second: a request exactly at the edge is still accepted); an envelope
// ID as long as Slack may redeliver it.
const (
	keySignature = "sig/"
	keyEnvelope  = "env/"
	envelopeTTL  = 10 * time.Minute
)

// firstSeen records key in the adapter's Seen for ttl and says whether
// it was new: nil, ErrReplay, ErrReplaysFull or an error wrapping
// ErrReplayCheck. The check is bounded by seenTimeout, as it sits in the
// ack path.
//
// With several replicas the Seen is shared, so a request replayed to, or
// an envelope redelivered on, another replica is recognised there too.
func (a *Adapter) firstSeen(ctx context.Context, key string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, a.opt.seenTimeout)
	defer cancel()
	first, err := a.seen.FirstSeen(ctx, key, max(ttl, time.Second))
	switch {
	case errors.Is(err, bot.ErrSeenFull):
		return ErrReplaysFull
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReplayCheck, err)
	case !first:
		return ErrReplay
	}
	return nil
}

// signatureTTL is how long from now the verifier accepts s again.
func (a *Adapter) signatureTTL(s Signed) time.Duration {
	return s.Timestamp.Add(SignatureWindow + time.Second).Sub(a.opt.clock())
}
