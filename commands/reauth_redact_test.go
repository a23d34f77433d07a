package commands_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestReauthCodesNeverAudited: a command carrying --code that is refused
// (a flag given twice, an extra argument, --code with --reset, a wrong
// code, a code where none is needed, a code typed without its flag) is audited without the code's value,
// and its refusal does not echo it either.
func TestReauthCodesNeverAudited(t *testing.T) {
	s, rec, _ := reauthSetup(t, false, simtest.Options{})
	id, _ := openMigrate(t, s, rec)
	enrol(t, s, rec, bob)
	codes := []string{"918273", "827364", "736455", "645546", "554637", "463728", "372819"}
	for _, text := range []string{
		"approve " + id + " --code " + codes[0] + " --code=" + codes[1],
		"approve " + id + " extra --code " + codes[2],
		"enroll --reset " + carol.ID + " --code " + codes[3],
		"approve nosuchid --code " + codes[4],
		"approve " + id + " --code " + codes[5],
		"approve " + id + " " + codes[6], // without the flag: an extra argument
	} {
		err := command(t, s, rec, bob, text)
		if err == nil {
			t.Fatalf("%q was accepted", text)
		}
		for _, c := range codes {
			if strings.Contains(err.Error(), c) {
				t.Errorf("the refusal of %q echoes the code: %v", text, err)
			}
		}
	}
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if strings.Contains(string(b), c) {
			t.Errorf("the audit trail holds the code %s in clear:\n%s", c, b)
		}
	}
	if !strings.Contains(string(b), "--code ******") {
		t.Errorf("the refused commands are not audited with their code hidden:\n%s", b)
	}
}
