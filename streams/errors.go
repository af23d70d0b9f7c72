package streams

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
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
