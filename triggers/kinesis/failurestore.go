package kinesis

import "context"

// FailureDestination is where a mapping writes the records it gave up on
// (DestinationConfig.OnFailure): one JSON object per failure, under a key
// from FailureKey, in Config.OnFailureBucket. The trigger owns this
// interface; the app adapts an object store (a local bucket directory or S3)
// to it, so this package never depends on a delivery stream's destinations.
type FailureDestination interface {
	// PutFailure stores body (a FailureRecord, or a redrive marker) under
	// bucket/key durably; records is how many stream records it covers.
	PutFailure(ctx context.Context, bucket, key string, body []byte, records int) error
}

// FailureStore is the object store holding a mapping's failure records as
// redrive reads them: failure records and markers are read back and listed,
// markers are written with PutFailure.
type FailureStore interface {
	FailureDestination
	// GetFailure returns the object's body.
	GetFailure(ctx context.Context, bucket, key string) ([]byte, error)
	// ListFailures returns the keys under prefix, in any order.
	ListFailures(ctx context.Context, bucket, prefix string) ([]string, error)
}
