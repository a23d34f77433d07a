package approvals

// User is a person on a chat platform.
type User struct {
	// ID is the user's ID qualified by platform ("slack:U123",
	// "console:alice"; see Qualify). It never changes and is what policy
	// lists and what decisions are keyed on. Requests stored before IDs
	// were qualified hold the platform's bare ID (see Request.Canonical).
	ID string `json:"id"`
	// Name is the display name, for messages only.
	Name string `json:"name,omitempty"`
}

// String returns the display name, or the ID when there is none.
func (u User) String() string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}
