package schedule

import "errors"

// Errors the Scheduler and Validate return, wrapped with a sentence that
// says what to do; the sentence (err.Error()) is written for the person
// who typed the command and may be shown to them as it stands.
var (
	// ErrInvalid: the schedule cannot be accepted (bad spec, zone, host,
	// what or when).
	ErrInvalid = errors.New("invalid schedule")
	// ErrNotFound: no schedule has that ID. A Store's RemoveSchedule wraps
	// it for a missing ID.
	ErrNotFound = errors.New("no such schedule")
	// ErrReadOnly: the schedule comes from the configuration file and
	// cannot be changed from chat.
	ErrReadOnly = errors.New("schedule defined in the configuration file")
	// ErrBusy: a run of that schedule is in progress (runs of one schedule
	// never overlap).
	ErrBusy = errors.New("schedule is running")
)

// userError is an error whose text is the sentence for the user and which
// matches its kind (one of the Err* values) with errors.Is.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

func invalid(msg string) error { return &userError{kind: ErrInvalid, msg: msg} }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
