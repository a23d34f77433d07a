package bot_test

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func TestRedactCommand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"approve a1b2c3d4 --code 123456", "approve a1b2c3d4 --code ******"},
		{"approve a1b2c3d4 --code=123456", "approve a1b2c3d4 --code=******"},
		{"approve a1b2c3d4 \u2014code 123456", "approve a1b2c3d4 \u2014code ******"},
		{"enroll --code \"123 456\"", "enroll --code ******"},
		{"approve x --code 111111 --code 222222", "approve x --code ****** --code ******"},
		{"migrate --host gitlab-1 -- the code 123456 is fine", "migrate --host gitlab-1 -- the code 123456 is fine"},
		{"approve a1b2c3d4", "approve a1b2c3d4"},
	} {
		if got := bot.RedactCommand(tc.in); got != tc.want {
			t.Errorf("RedactCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
