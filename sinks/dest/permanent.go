package dest

import (
	"errors"
	"fmt"
)

// PermanentError is a Put failure that no retry can fix: the store refused
// the object itself (its key, its bucket, the caller's rights), not the
// moment. A writer stops retrying such an object and reports it instead;
// every other error is taken as transient (an outage, a full disk,
// throttling) and retried, so a store that is unsure must not say
// "permanent": a wrong "permanent" moves records to the error output, a
// wrong "transient" only delays them.
type PermanentError struct {
	// Code names the cause in a few words, for logs, metrics and error
	// output records: "S3.AccessDenied", "LocalDir.InvalidKey", ...
	Code string
	// Err is the store's error.
	Err error
}

func (e *PermanentError) Error() string { return fmt.Sprintf("%s (permanent: %s)", e.Err, e.Code) }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent with code. A nil err stays nil.
func Permanent(code string, err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Code: code, Err: err}
}

// AsPermanent returns the PermanentError in err's chain, if any. Wrapping
// (fmt.Errorf with %w) keeps an error permanent.
func AsPermanent(err error) (*PermanentError, bool) {
	var p *PermanentError
	if errors.As(err, &p) {
		return p, true
	}
	return nil, false
}
