package s3

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// apiErr is what the SDK returns for an error response: an
// awshttp.ResponseError around the service's error code.
func apiErr(status int, code string) error {
	return fmt.Errorf("s3: put b/k: %w", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
	}})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		perm string // "" for transient
	}{
		{apiErr(403, "AccessDenied"), "S3.AccessDenied"},
		{apiErr(404, "NoSuchBucket"), "S3.NoSuchBucket"},
		{apiErr(400, "KeyTooLongError"), "S3.KeyTooLongError"},
		{apiErr(400, "InvalidArgument"), "S3.InvalidArgument"},
		{apiErr(400, ""), "S3.HTTP400"},
		{apiErr(400, "RequestTimeout"), ""},
		{apiErr(400, "ExpiredToken"), ""},
		{apiErr(403, "RequestTimeTooSkewed"), ""},
		{apiErr(404, "NoSuchUpload"), ""},
		{apiErr(408, "Whatever"), ""},
		{apiErr(409, "OperationAborted"), ""},
		{apiErr(429, "TooManyRequests"), ""},
		{apiErr(503, "SlowDown"), ""},
		{apiErr(500, "InternalError"), ""},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), ""},
	} {
		p, ok := dest.AsPermanent(classify(tc.err))
		switch {
		case tc.perm == "" && ok:
			t.Errorf("%v: permanent %s, want transient", tc.err, p.Code)
		case tc.perm != "" && (!ok || p.Code != tc.perm):
			t.Errorf("%v: got %v, want permanent %s", tc.err, p, tc.perm)
		}
	}
}
