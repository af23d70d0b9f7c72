package s3_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
)

// TestRefusedKeyIsPermanent: a key S3 refuses comes back as a permanent
// error from a real S3-compatible server, an unreachable server as a
// transient one.
func TestRefusedKeyIsPermanent(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := s3test.Start(t)
	st := srv.Store("perm")
	err := st.Put(t.Context(), "no-such-bucket-here", "k", strings.NewReader("x"), dest.ObjectMeta{})
	if _, ok := dest.AsPermanent(err); !ok {
		t.Errorf("put to a missing bucket = %v, want permanent", err)
	}
	srv.Stop()
	err = st.Put(t.Context(), "perm", "k", strings.NewReader("x"), dest.ObjectMeta{})
	if err == nil {
		t.Fatal("put to a stopped server succeeded")
	}
	if p, ok := dest.AsPermanent(err); ok {
		t.Errorf("put to a stopped server = permanent %s, want transient", p.Code)
	}
}
