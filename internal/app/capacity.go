package app

import "github.com/sluice-dev/sluice/streams/capacity"

// Shard planning for `sluice streams plan`, here so that the command line
// reaches the stream packages only through this package.

// CapacityLoad is the load a stream must carry.
type CapacityLoad = capacity.Load

// CapacityPlan is the shards the load needs and the limit that binds.
type CapacityPlan = capacity.Result

// PlanCapacity works out the shards a load needs.
func PlanCapacity(l CapacityLoad) (CapacityPlan, error) { return capacity.Plan(l) }
