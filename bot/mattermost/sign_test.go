package mattermost

import (
	"log/slog"
	"strings"
	"testing"
)

func TestSignatureBindsEveryField(t *testing.T) {
	s := newSigner(actionSecret)
	post, ch := fixedID("post"), fixedID("chan")
	sig := s.sign("r7k2qxa9", "approve", post, ch)
	if !s.verify(sig, "r7k2qxa9", "approve", post, ch) {
		t.Fatal("a signature should verify for what it was made for")
	}
	for name, ok := range map[string]bool{
		"other request": s.verify(sig, "r7k2qxa8", "approve", post, ch),
		"other action":  s.verify(sig, "r7k2qxa9", "deny", post, ch),
		"other post":    s.verify(sig, "r7k2qxa9", "approve", fixedID("post2"), ch),
		"other channel": s.verify(sig, "r7k2qxa9", "approve", post, fixedID("chan2")),
		"other secret":  newSigner(actionSecret+"x").verify(sig, "r7k2qxa9", "approve", post, ch),
		"no version":    s.verify(strings.TrimPrefix(sig, sigVersion), "r7k2qxa9", "approve", post, ch),
		"not base64":    s.verify(sigVersion+"!!!", "r7k2qxa9", "approve", post, ch),
		"empty":         s.verify("", "r7k2qxa9", "approve", post, ch),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
	// Field boundaries are part of what is signed.
	if s.verify(s.sign("ab", "c", post, ch), "a", "bc", post, ch) {
		t.Error("(ab, c) and (a, bc) must not share a signature")
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{
		URL: "https://mm.example.com", BotToken: "t", CommandTokens: []string{"c"},
		ActionSecret: strings.Repeat("s", 32), CallbackURL: "https://bot.internal" + ActionsPath,
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	err := Config{URL: "mm.example.com", CommandTokens: []string{""}, ActionSecret: "short", CallbackURL: "/x", NotifyFallback: "email"}.Validate()
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	for _, want := range []string{"url", "bot_token", "command_tokens[0]", "action_secret", "callback_url", "notify_fallback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %s: %v", want, err)
		}
	}
	if _, err := New(Config{}, Options{}); err == nil {
		t.Error("New accepted an empty config")
	}
}

func TestConfigNeverLogsSecrets(t *testing.T) {
	c := Config{URL: "https://mm", BotToken: "BOTSECRET", CommandTokens: []string{"CMDSECRET"}, ActionSecret: "ACTIONSECRET"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "mattermost", c)
	for _, s := range []string{"BOTSECRET", "CMDSECRET", "ACTIONSECRET"} {
		if strings.Contains(b.String(), s) {
			t.Errorf("a secret was logged: %s", b.String())
		}
	}
}

func TestIsID(t *testing.T) {
	for id, want := range map[string]bool{
		"8j3n5pzm1fbq7c6yy9qfg5w4xr":  true,
		"8J3N5PZM1FBQ7C6YY9QFG5W4XR":  false, // IDs are lowercase
		"alice":                       false,
		"Alice Smith":                 false,
		"8j3n5pzm1fbq7c6yy9qfg5w4x":   false, // 25
		"8j3n5pzm1fbq7c6yy9qfg5w4xr1": false, // 27
		"8j3n5pzm1fbq7c6yy9qfg5w4-r":  false,
	} {
		if IsID(id) != want {
			t.Errorf("IsID(%q) = %v", id, !want)
		}
	}
}
