package s3_test

import (
	"testing"

	"github.com/sluice-dev/sluice/sinks/dest/desttest"
	"github.com/sluice-dev/sluice/sinks/s3"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
)

func TestConformance(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "") // shared/tooling.md: the SDK must not need it
	srv := s3test.Start(t)
	n := 0
	desttest.Run(t, func(t *testing.T) desttest.Store {
		n++
		bucket := "conf-" + string(rune('a'+n))
		st := srv.Store(bucket)
		return desttest.Store{Dest: st, Reader: st, Bucket: bucket}
	})
}

func TestConfigRejectsSmallParts(t *testing.T) {
	if _, err := s3.New(t.Context(), s3.Config{Endpoint: "http://127.0.0.1:1", PartSize: 1 << 20}); err == nil {
		t.Fatal("want an error for a 1 MiB part size")
	}
}
