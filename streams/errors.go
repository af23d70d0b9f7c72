package streams

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Operations return the SDK's typed errors so callers errors.As them the
// same way whether they talk to us over HTTP or in process.

func errNotFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInvalid(format string, args ...any) error {
	return &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInUse(format string, args ...any) error {
	return &types.ResourceInUseException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errLimit(format string, args ...any) error {
	return &types.LimitExceededException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInternal(err error) error {
	return &types.InternalFailureException{Message: aws.String(err.Error())}
}

// serviceUnavailable is AWS's common ServiceUnavailable error (HTTP 503,
// "the request has failed due to a temporary failure of the server"),
// which every AWS SDK retries with backoff. The engine answers it when a
// shard log could not make records durable (disk full, I/O error): the
// records were not written, and the same request can succeed later.
type serviceUnavailable struct {
	msg   string
	cause error
}

func (e *serviceUnavailable) Error() string                 { return "ServiceUnavailable: " + e.msg }
func (e *serviceUnavailable) ErrorCode() string             { return "ServiceUnavailable" }
func (e *serviceUnavailable) ErrorMessage() string          { return e.msg }
func (e *serviceUnavailable) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }
func (e *serviceUnavailable) Unwrap() error                 { return e.cause }
func (e *serviceUnavailable) httpStatus() int               { return http.StatusServiceUnavailable }

// errStorage is the request-level answer to appends that failed in the
// shard log.
func errStorage(err error) error {
	return &serviceUnavailable{msg: storageMessage(err), cause: err}
}

// storageMessage says why records were not written, in words a producer
// can act on: a full disk is named as such.
func storageMessage(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return "The disk holding the stream's data is full (no space left on device); the records were not written. Retry after space is freed."
	}
	return "The stream's storage failed to write the records (" + err.Error() + "); they were not written. Retry later."
}

// validation collects model-constraint violations and renders them the way
// the service does: "N validation error(s) detected: Value X at 'f' failed
// to satisfy constraint: C; ...".
type validation []string

func (v *validation) add(value any, field, constraint string) {
	var val string
	switch x := value.(type) {
	case nil:
		val = "null"
	case string:
		val = "'" + x + "'"
	default:
		val = fmt.Sprintf("'%v'", x)
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, field, constraint))
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return &types.ValidationException{Message: aws.String(fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))}
}

func (v *validation) intRange(p *int32, field string, lo, hi int32) {
	if p == nil {
		return
	}
	if *p < lo {
		v.add(*p, field, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	} else if *p > hi {
		v.add(*p, field, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
}

func (v *validation) streamName(p *string, field string, required bool) {
	if p == nil {
		if required {
			v.add(nil, field, "Member must not be null")
		}
		return
	}
	if len(*p) < 1 {
		v.add(*p, field, "Member must have length greater than or equal to 1")
	} else if len(*p) > 128 {
		v.add(*p, field, "Member must have length less than or equal to 128")
	} else if !validStreamName(*p) {
		v.add(*p, field, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	}
}

// internalFailure is the service's bare 500 (no message), which it answers
// for some sequence numbers of its oldest layout.
type internalFailure struct{}

func (internalFailure) Error() string                 { return "InternalFailure" }
func (internalFailure) ErrorCode() string             { return "InternalFailure" }
func (internalFailure) ErrorMessage() string          { return "" }
func (internalFailure) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }
