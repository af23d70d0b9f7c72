package frontdoor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 verification, for every AWS API Sluice serves (Kinesis and
// Firehose on the API port, and the Kinesis handler run on its own). With
// keys configured, every request must carry a valid AWS Signature Version
// 4 by one of them, as on AWS: the request is re-signed with the SDK's own
// signer over exactly the headers the client signed, and the signatures
// compared in constant time.

// MaxSkew is how far a request's X-Amz-Date may be from our clock.
const MaxSkew = 15 * time.Minute

// requiredSigned are the headers a signature must cover. AWS requires only
// host and x-amz-date; we also require x-amz-target because these APIs
// choose the operation by that header alone (the URL is always "/"): a
// signature that does not cover it lets whoever captured a signed
// DescribeStreamSummary replay it, body and all, as DeleteStream. Every
// AWS SDK and the CLI sign it.
var requiredSigned = []string{"host", "x-amz-date", "x-amz-target"}

// SigError is a refused signature: the AWS error code and message the SDK
// user sees, and the HTTP status.
type SigError struct {
	Status        int
	Code, Message string
}

func (e *SigError) Error() string { return e.Code + ": " + e.Message }

func sigErr(status int, code, msg string) *SigError {
	return &SigError{Status: status, Code: code, Message: msg}
}

// VerifySigV4 checks r's signature over body against keys (access key ID
// → secret key). It returns nil or a *SigError.
func VerifySigV4(r *http.Request, body []byte, keys map[string]string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return sigErr(http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != "AWS4-HMAC-SHA256" {
		return sigErr(http.StatusBadRequest, "IncompleteSignatureException", "Unsupported signature algorithm "+Quote(alg))
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return sigErr(http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature.")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range requiredSigned {
		found := false
		for _, s := range signed {
			found = found || s == h
		}
		if !found {
			return sigErr(http.StatusBadRequest, "IncompleteSignatureException",
				"SignedHeaders must include "+h+" (Sluice requires host, x-amz-date and x-amz-target to be signed: the operation is named by X-Amz-Target, so a signature without it could be replayed as another operation).")
		}
	}
	secret, ok := keys[scope[0]]
	if !ok {
		return sigErr(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return sigErr(http.StatusBadRequest, "IncompleteSignatureException", "Missing or malformed X-Amz-Date.")
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return sigErr(http.StatusForbidden, "InvalidSignatureException", "Signature expired: "+date+" is now earlier or later than 15 minutes from "+now.UTC().Format("20060102T150405Z")+".")
	}
	// Rebuild the request with only the headers the client signed.
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return sigErr(http.StatusBadRequest, "IncompleteSignatureException", "unparseable request target")
	}
	re.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			re.ContentLength = int64(len(body))
		default:
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret},
		re, hex.EncodeToString(sum[:]), scope[3], scope[2], t)
	if err != nil {
		return sigErr(http.StatusForbidden, "InvalidSignatureException", "re-signing the request: "+err.Error())
	}
	_, want, _ := strings.Cut(re.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return sigErr(http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}
