// Package mattermost is the Mattermost adapter of gitlab-chatops.
package mattermost

import _ "github.com/mattermost/mattermost/server/public/model"
