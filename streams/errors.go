package streams

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Operations return the SDK's typed errors so callers errors.As them the
// same way whether they talk to us over HTTP or in process.

//
// The message helpers below quote their string arguments through
// capQuoted: most of them are the caller's input (stream, consumer and
// shard names, ARNs, sequence numbers), and a message must not echo 100 KB
// of it back.

func errNotFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, capArgs(args)...))}
}

func errInvalid(format string, args ...any) error {
	return &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf(format, capArgs(args)...))}
}

func errInUse(format string, args ...any) error {
	return &types.ResourceInUseException{Message: aws.String(fmt.Sprintf(format, capArgs(args)...))}
}

func errLimit(format string, args ...any) error {
	return &types.LimitExceededException{Message: aws.String(fmt.Sprintf(format, capArgs(args)...))}
}

// errAccessDenied is the service's answer to a request for a resource of
// another account, which no resource policy here can grant (Kinesis lists
// AccessDeniedException, HTTP 400, for every operation that takes an ARN).
func errAccessDenied(format string, args ...any) error {
	return &types.AccessDeniedException{Message: aws.String(fmt.Sprintf(format, capArgs(args)...))}
}

// Quoting input in messages. AWS quotes a failing value in full: the
// recordings in kinesalite's suite echo a 513-character ShardIterator, a
// 257-character partition key and 501 PutRecords entries, and our answers
// keep doing so for values up to maxQuoted bytes, which holds one past
// every length limit of the model but the ARNs' (2048). A longer value is
// cut to its first quotedHead bytes, so a 100 KB stream name, key or ARN
// yields a message well under 1 KiB (the HTTP layer's cap on a whole
// message, frontdoor.MaxMessage, is a backstop that cuts its middle) that
// still says what the value was and how long. AWS itself does not cut
// (it leaves some sensitive values out entirely); the cut is ours.
const (
	maxQuoted  = 640
	quotedHead = 256
)

// capQuoted returns s as an error message may quote it: whole up to
// maxQuoted bytes, else its first quotedHead bytes (cut on a character
// boundary), an ellipsis and the whole length.
func capQuoted(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := quotedHead
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// capArgs caps the string arguments of a message (see capQuoted); it
// copies args only when one needs cutting.
func capArgs(args []any) []any {
	out := args
	for i, a := range args {
		s, ok := a.(string)
		if !ok || len(s) <= maxQuoted {
			continue
		}
		if len(out) > 0 && &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = capQuoted(s)
	}
	return out
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
		val = "'" + capQuoted(x) + "'"
	default:
		val = "'" + capQuoted(fmt.Sprint(x)) + "'"
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
