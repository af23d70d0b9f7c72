// Command anomaly is the sample pipeline's Anomaly function: per tumbling
// window of the clickstream it counts clicks per page and, when the window
// closes, emits an alert for every page whose count exceeds k times the
// window's baseline.
//
// # Baseline
//
// The baseline of a window is the median of the per-page click counts in
// that same window, over every page the window saw on that shard. A page is
// anomalous when count > k × median and count ≥ min (so a window with
// three clicks alerts on nothing). Comparing a page with its peers in the
// same window, rather than with its own history, needs no state beyond the
// window — Lambda's tumbling-window state is dropped at every window's end —
// and it flags a spike on one page even while overall traffic rises. Each
// shard has its own windows (the stream is keyed by session, so a page's
// clicks spread over shards); each shard judges its share.
//
// Environment: ANOMALY_K (default 3), ANOMALY_MIN_COUNT (default 20).
//
// It is an ordinary aws-lambda-go handler: built with -buildmode=plugin it
// runs inside Sluice, built normally it is an AWS Lambda bootstrap.
package main

import "github.com/sluice-dev/sluice/sdk"

func main() {
	sdk.Start(handle)
}
