package app

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/sinks/dest"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// failureObjects adapts an object store (the local bucket directory or S3)
// to the trigger's failure interfaces: failure records and redrive markers
// are JSON objects. Keeping the adapter here lets triggers/kinesis define
// what it needs without importing the delivery stream's destinations.
type failureObjects struct {
	put dest.Destination
	get dest.Reader // nil where only writes are needed
}

var _ kinesistrigger.FailureStore = failureObjects{}

// failureStore adapts store for redrive, which also lists and reads.
func failureStore(store dest.Destination) (failureObjects, error) {
	r, ok := store.(dest.Reader)
	if !ok {
		return failureObjects{}, fmt.Errorf("the object store (%T) cannot list and read objects", store)
	}
	return failureObjects{put: store, get: r}, nil
}

func (f failureObjects) PutFailure(ctx context.Context, bucket, key string, body []byte, records int) error {
	return f.put.Put(ctx, bucket, key, bytes.NewReader(body), dest.ObjectMeta{ContentType: "application/json", Records: records})
}

func (f failureObjects) GetFailure(ctx context.Context, bucket, key string) ([]byte, error) {
	body, _, err := f.get.Get(ctx, bucket, key)
	return body, err
}

func (f failureObjects) ListFailures(ctx context.Context, bucket, prefix string) ([]string, error) {
	return f.get.List(ctx, bucket, prefix)
}
