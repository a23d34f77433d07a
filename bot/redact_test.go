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
		// A code typed without its flag, after the ID; an all-digit ID stays.
		{"approve a1b2c3d4 123456", "approve a1b2c3d4 ******"},
		{"approve 12345678  12345678", "approve 12345678  ******"},
		{"/gitlab-migrations approve a1b2c3d4 1234567 looks fine", "/gitlab-migrations approve a1b2c3d4 ****** looks fine"},
		{"enroll 654321", "enroll ******"},
		{"approve a1b2c3d4 INC-123456 12345 123456789", "approve a1b2c3d4 INC-123456 12345 123456789"},
		{"deny a1b2c3d4 ticket 123456", "deny a1b2c3d4 ticket 123456"},
		{"status 123456", "status 123456"},
	} {
		if got := bot.RedactCommand(tc.in); got != tc.want {
			t.Errorf("RedactCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
