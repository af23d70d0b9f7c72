package checkpoint_test

import (
	"testing"

	"github.com/sluice-dev/sluice/triggers/checkpoint"
	"github.com/sluice-dev/sluice/triggers/checkpoint/storetest"
)

func TestFileStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return t.TempDir() }, func(loc string) (checkpoint.Store, error) {
		return checkpoint.Open("file", loc)
	})
}
