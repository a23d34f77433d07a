package commands

// SetArgvSent makes r send f(approved argv) to the agent instead of the
// approved argv: a bot whose catalogue builds something else than the
// agent's. For tests only.
func SetArgvSent(r *Router, f func([]string) []string) { r.argvSent = f }
