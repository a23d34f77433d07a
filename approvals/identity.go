package approvals

import "strings"

// Identities are qualified by platform: "slack:U123", "mattermost:8x…",
// "console:alice". What policy lists, requests, decisions and the signed
// approval statement carry is the qualified ID, so that a Slack user and a
// Mattermost user are different people even if their platform IDs were
// spelled the same, and a group is asked of its own platform only. There is
// no identity linking: the same person on two platforms is two identities.
//
// Unqualified IDs still occur: requests stored before qualification, and
// policies built in code for one platform. They are read as follows:
//   - in a Request, an unqualified ID belongs to the request's Platform
//     (the requester opened it there; see Request.canonical);
//   - otherwise an unqualified ID names that platform ID on whichever
//     platform (SameID). The configuration qualifies every policy ID it
//     loads, and refuses unqualified ones when two platforms are
//     configured, so a deployment's policy never relies on this.

// Qualify returns id qualified by platform ("slack", "U123" →
// "slack:U123"). It always prepends: an ID coming from a platform is that
// platform's, whatever it contains (a console name "slack:U1" becomes
// "console:slack:U1", not the Slack user). An empty platform or id leaves
// id as it is.
func Qualify(platform, id string) string {
	if platform == "" || id == "" {
		return id
	}
	return platform + ":" + id
}

// SplitID splits a qualified ID into its platform and the platform's own
// ID. An unqualified id yields platform "" and local id. A platform name is
// a lowercase letter followed by lowercase letters, digits or '-', as the
// adapters' names are; no Slack or Mattermost ID contains a ':'.
func SplitID(id string) (platform, local string) {
	p, rest, ok := strings.Cut(id, ":")
	if !ok || !isPlatformName(p) {
		return "", id
	}
	return p, rest
}

// QualifyDefault qualifies an unqualified id by platform and leaves a
// qualified one as it is: for IDs that may already be qualified (policy
// entries, stored requests).
func QualifyDefault(platform, id string) string {
	if p, _ := SplitID(id); p != "" {
		return id
	}
	return Qualify(platform, id)
}

// SameID reports whether a and b name the same identity: they are equal,
// or one is unqualified and equals the other's platform ID. Two IDs
// qualified by different platforms are never the same.
func SameID(a, b string) bool {
	if a == b {
		return true
	}
	pa, la := SplitID(a)
	pb, lb := SplitID(b)
	if pa != "" && pb != "" {
		return false
	}
	return la == lb
}

// containsID reports whether list names id (SameID).
func containsID(list []string, id string) bool {
	for _, e := range list {
		if SameID(e, id) {
			return true
		}
	}
	return false
}

func isPlatformName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s[1:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
