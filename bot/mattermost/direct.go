package mattermost

import (
	"context"
	"errors"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// sendFiles sends files to user alone: each is uploaded into the bot's
// direct channel with them (CreateDirectChannel) and posted there. Nobody
// else is in that channel, so an enrolment's QR code is seen by its user
// only. Failures are logged: the Reply's Message already said what the
// files hold.
func (a *Adapter) sendFiles(ctx context.Context, user bot.User, files []bot.File) {
	if len(files) == 0 {
		return
	}
	if err := a.sendDirect(ctx, user, files); err != nil {
		a.log.Error("could not send files to their user by direct message", "user", user.ID, "err", err)
	}
}

func (a *Adapter) sendDirect(ctx context.Context, user bot.User, files []bot.File) error {
	if !model.IsValidId(user.ID) {
		return fmt.Errorf("mattermost: cannot send files to %q: not a user ID", user.ID)
	}
	ch, err := a.directChannel(ctx, user.ID)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := a.upload(ctx, ch.Id, "", f, ""); err != nil {
			errs = append(errs, fmt.Errorf("sending %q to %s: %w", f.Name, user.ID, err))
		}
	}
	return errors.Join(errs...)
}

// later runs fn after the response was written, detached from the
// request (which ends with it) but bounded; Wait waits for it.
func (a *Adapter) later(base context.Context, fn func(ctx context.Context)) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(base), a.opt.UploadTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// Wait implements bot.Drainer: it blocks until the work that followed
// responses (files sent by direct message, answers to dialogs) is done.
func (a *Adapter) Wait() { a.bg.Wait() }
