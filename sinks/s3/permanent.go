package s3

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// transientCodes are S3 error codes answered with a 4xx status that a
// later attempt can still get past: throttling, timeouts, clock skew,
// expired credentials (refreshed by the chain), a multipart upload that
// vanished or a body damaged in transit (the whole object is resent).
var transientCodes = map[string]bool{
	"RequestTimeout": true, "SlowDown": true, "Throttling": true, "ThrottlingException": true,
	"RequestThrottled": true, "TooManyRequests": true, "RequestTimeTooSkewed": true,
	"ExpiredToken": true, "TokenRefreshRequired": true, "OperationAborted": true,
	"NoSuchUpload": true, "InvalidPart": true, "InvalidPartOrder": true,
	"BadDigest": true, "IncompleteBody": true, "XAmzContentSHA256Mismatch": true,
}

// classify marks err permanent (dest.Permanent, code "S3.<ErrorCode>")
// when S3 answered with a 4xx status other than a timeout (408), a
// conflict (409) or throttling (429) and an error code not in
// transientCodes: the request itself was refused (AccessDenied,
// NoSuchBucket, KeyTooLongError, InvalidArgument, EntityTooLarge, ...)
// and resending it cannot help. Everything else (no answer at all, 5xx)
// stays transient and is retried.
func classify(err error) error {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	status := re.HTTPStatusCode()
	if status < 400 || status >= 500 || status == 408 || status == 409 || status == 429 {
		return err
	}
	code := fmt.Sprintf("HTTP%d", status)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		code = ae.ErrorCode()
	}
	if transientCodes[code] {
		return err
	}
	return dest.Permanent("S3."+code, err)
}
