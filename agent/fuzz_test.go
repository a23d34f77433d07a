package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// FuzzDecodeRunRequest feeds any body to the agent's decoding of POST
// /v1/jobs (decodeJSONBody, then validateRun) and checks their promises:
// nothing panics; a refusal is a *requestError with a 4xx status; what
// is accepted is one valid JSON object whose encoding decodes to a
// request with the same encoding; and what validates names a catalogue operation, carries
// metadata within bounds and free of control characters, and, for a
// mutating operation, exactly the argv the catalogue builds.
//
//	scripts/fuzz 60s 'agent\.FuzzDecodeRunRequest$'
func FuzzDecodeRunRequest(f *testing.F) {
	for _, s := range []string{
		`{"operation":"migrate-status","args":{"database":"ci"}}`,
		`{"operation":"migrate","argv":["gitlab-rake","db:migrate"],"request_id":"r7k2qxa9","requester":"alice","approvers":["bob"]}`,
		`{"operation":"finalize","args":{"job_class_name":"CopyColumnUsingBackgroundMigrationJob","table_name":"ci_build_needs","column_name":"id","job_arguments":"[[\"id\"],[\"id_convert_to_bigint\"]]"}}`,
		`{"operation":"restart","args":{"service":"sidekiq"},"purpose":"approval-check"}`,
		`{"operation":"services","purpose":"approval-check","requester":"a\u0007b"}`,
		`{"operation":"migrate-status","Operation":"migrate"}`,
		`{"operation":"migrate-status","ſtatus":1}`,
		`{"operation":"bbm-status"} {}`,
		`{"operation":"bbm-list","approval":{"version":1,"signature":"AAAA"}}`,
		`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]`, `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":1}}}}}}}}}}}}}}}}}`,
		``, ` `, `null`, `"x"`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRun(body)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.httpStatus() < 400 || re.httpStatus() > 499 || re.msg == "" {
				t.Fatalf("%q: refusal %#v is not a 4xx requestError", body, err)
			}
			return
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("%q was accepted but is not one JSON object", body)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		// Compared as encodings: an empty list and an absent one (nil)
		// mean the same, and omitempty writes neither.
		back, err := decodeRun(again)
		if err != nil {
			t.Fatalf("%q decoded to %+v; its encoding %s is refused: %v", body, req, again, err)
		}
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("%q decoded to %+v, encoded as %s; that decodes to %+v, encoded as %s", body, req, again, back, twice)
		}
		op, cmd, err := validateRun(req)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.httpStatus() != http.StatusBadRequest {
				t.Fatalf("%q: validation refusal %#v is not a 400 requestError", body, err)
			}
			return
		}
		if got, lerr := gitlab.Lookup(req.Operation); lerr != nil || got.Name != op.Name {
			t.Fatalf("%q validated as %q, not a catalogue operation", body, op.Name)
		}
		if op.Mutating() && (len(req.Argv) == 0 || !slices.Equal(req.Argv, cmd.Argv())) {
			t.Fatalf("%q: mutating %s validated with argv %q, the catalogue builds %q", body, op.Name, req.Argv, cmd.Argv())
		}
		if len(req.Approvers) > maxApprovers {
			t.Fatalf("%q validated with %d approvers", body, len(req.Approvers))
		}
		for _, m := range append([]string{req.RequestID, req.Requester}, req.Approvers...) {
			if len(m) > maxMetaLen || strings.IndexFunc(m, unicode.IsControl) >= 0 {
				t.Fatalf("%q validated with the metadata %q", body, m)
			}
		}
	})
}

// decodeRun is handleRun's decoding of body.
func decodeRun(body []byte) (RunRequest, error) {
	var req RunRequest
	r := httptest.NewRequest(http.MethodPost, "https://agent/v1/jobs", bytes.NewReader(body))
	err := decodeJSONBody(httptest.NewRecorder(), r, maxRunBody, &req, false)
	return req, err
}
