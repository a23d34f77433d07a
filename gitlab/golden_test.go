package gitlab

import (
	"bytes"
	"encoding/json"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// parserFixtureDir holds the byte-exact command outputs shared with the
// simulator and the docs (see its README.md).
const parserFixtureDir = "../../shared/fixtures/gitlab"

// parseFunc runs one parser and returns its typed result and error.
type parseFunc func([]byte) (any, error)

// fixtureParsers maps every fixture to the parser for the command that
// printed it. TestFixturesAllCovered keeps it complete.
var fixtureParsers = map[string]parseFunc{
	"migrate-status-single-db-all-up.txt":                  parseMigrateStatusAny,
	"migrate-status-single-db-some-down.txt":               parseMigrateStatusAny,
	"migrate-status-multi-db.txt":                          parseMigrateStatusAny,
	"migrate-status-large.txt":                             parseMigrateStatusAny,
	"migrate-status-decomposed-before-unprefixed-fail.txt": parseMigrateStatusAny,

	"migrate-success.txt":                                parseMigrateAny,
	"migrate-nothing-pending.txt":                        parseMigrateAny,
	"migrate-success-multi-db.txt":                       parseMigrateAny,
	"migrate-fail-batched-bbm.txt":                       parseMigrateAny,
	"migrate-fail-batched-bbm-14x.txt":                   parseMigrateAny,
	"migrate-fail-batched-bbm-detailed-message.txt":      parseMigrateAny,
	"migrate-fail-batched-bbm-stderr-first.txt":          parseMigrateAny,
	"migrate-fail-bbm-failed-to-finalize.txt":            parseMigrateAny,
	"migrate-fail-generic.txt":                           parseMigrateAny,
	"migrate-fail-batched-bbm-decomposed-unprefixed.txt": parseMigrateAny,

	"finalize-success.txt":               parseFinalizeAny,
	"finalize-fail.txt":                  parseFinalizeAny,
	"finalize-fail-specify-database.txt": parseFinalizeAny,
	"finalize-fail-missing-argument.txt": parseFinalizeAny,
	"bbm-status-single-db.txt":           parseBBMStatusAny,
	"bbm-status-multi-db.txt":            parseBBMStatusAny,
	"bbm-list.txt":                       parseBBMListAny,
	"ctl-status-all-up.txt":              parseCtlStatusAny,
	"ctl-status-some-down.txt":           parseCtlStatusAny,
	"ctl-status-runsvdir-down.txt":       parseCtlStatusAny,
	"ctl-restart.txt":                    parseCtlRestartAny,
	"ctl-restart-single.txt":             parseCtlRestartAny,
	"ctl-restart-timeout.txt":            parseCtlRestartAny,
	"ctl-stop-single.txt":                parseCtlRestartAny,
}

func parseMigrateStatusAny(b []byte) (any, error) { return ParseMigrateStatus(b) }
func parseBBMStatusAny(b []byte) (any, error)     { return ParseBBMStatus(b) }
func parseBBMListAny(b []byte) (any, error)       { return ParseBBMList(b) }
func parseCtlStatusAny(b []byte) (any, error)     { return ParseCtlStatus(b) }
func parseCtlRestartAny(b []byte) (any, error)    { return ParseCtlRestart(b) }
func parseMigrateAny(b []byte) (any, error)       { return ParseMigrate(b), nil }
func parseFinalizeAny(b []byte) (any, error)      { return ParseFinalize(b), nil }

// readFixture returns a fixture's bytes.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parserFixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureNames lists the fixture files, README.md excluded.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(parserFixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && e.Name() != "README.md" {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestFixturesAllCovered: a fixture added to the shared directory without a
// parser here fails, and so does a table entry whose fixture was removed.
func TestFixturesAllCovered(t *testing.T) {
	names := fixtureNames(t)
	for _, n := range names {
		if _, ok := fixtureParsers[n]; !ok {
			t.Errorf("fixture %s has no parser in fixtureParsers", n)
		}
	}
	for n := range fixtureParsers {
		if !slices.Contains(names, n) {
			t.Errorf("fixtureParsers names %s, which is not in %s", n, parserFixtureDir)
		}
	}
}

// golden is what a golden file holds: the typed result and the error text.
type goldenResult struct {
	Result any    `json:"result"`
	Error  string `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	for name, parse := range fixtureParsers {
		t.Run(name, func(t *testing.T) {
			res, err := parse(readFixture(t, name))
			g := goldenResult{Result: res}
			if err != nil {
				g.Error = err.Error()
			}
			got := marshalGolden(t, g)
			golden.Check(t, name, got)
		})
	}
}

// marshalGolden renders v as indented JSON without encoding/json's HTML
// escaping, so "=>" and "<main>" stay readable in the golden files.
func marshalGolden(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
