// Package slack is the Slack adapter of gitlab-chatops.
package slack

import (
	_ "github.com/slack-go/slack"
	_ "github.com/slack-go/slack/slacktest"
	_ "github.com/slack-go/slack/socketmode"
)
