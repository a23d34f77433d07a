package bot

// APIObserver is told about every chat API call an adapter makes through
// its retry loop (for metrics): the platform, the API method, how many
// attempts it took and how it ended (err nil: it succeeded). It must be
// quick; internal/metrics' *Bot implements it.
type APIObserver interface {
	APICall(platform, method string, attempts int, err error)
}
