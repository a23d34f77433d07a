package approvals

// User is a person on a chat platform.
type User struct {
	// ID is the platform's user ID. It never changes and is what policy
	// lists and what decisions are keyed on.
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
