package streams

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
	"github.com/aws/smithy-go"
)

// SigV4 verification (Options.Credentials). By default signatures are
// parsed by nobody and accepted: the embedded stream listens on loopback
// for local tools. With credentials configured, every request must carry a
// valid AWS Signature Version 4 by one of them, as on AWS: the request is
// re-signed with the SDK's own signer over exactly the headers the client
// signed, and the signatures compared in constant time.

// maxSkew is how far a request's X-Amz-Date may be from our clock.
const maxSkew = 15 * time.Minute

type sigError struct{ code, msg string }

func (e *sigError) Error() string                 { return e.code + ": " + e.msg }
func (e *sigError) ErrorCode() string             { return e.code }
func (e *sigError) ErrorMessage() string          { return e.msg }
func (e *sigError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// verifySigV4 checks r's signature over body against creds (access key ID
// → secret key).
func verifySigV4(r *http.Request, body []byte, creds map[string]string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &sigError{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != "AWS4-HMAC-SHA256" {
		return &sigError{"IncompleteSignatureException", "Unsupported signature algorithm " + alg}
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return &sigError{"IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature."}
	}
	secret, ok := creds[scope[0]]
	if !ok {
		return &sigError{"UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	t, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return &sigError{"IncompleteSignatureException", "Missing or malformed X-Amz-Date."}
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &sigError{"InvalidSignatureException", "Signature expired: " + r.Header.Get("X-Amz-Date") + " is now earlier or later than 15 minutes from " + now.UTC().Format("20060102T150405Z") + "."}
	}
	// Rebuild the request with only the headers the client signed.
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return &sigError{"IncompleteSignatureException", "unparseable request target"}
	}
	re.Host = r.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
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
		return &sigError{"InvalidSignatureException", err.Error()}
	}
	_, want, _ := strings.Cut(re.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return &sigError{"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}
