package kinesis

import (
	"bytes"
	"encoding/json"
	"math/big"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/sdk"
)

// verdict classifies a function's response under ReportBatchItemFailures
// (docs/semantics.md, "ESM partial batch responses").
type verdict struct {
	// failedAt is the index in the batch of the lowest reported failure:
	// records before it are done, it and everything after are retried.
	// len(batch) means complete success; 0 means complete failure.
	failedAt int
	// partial is true when the response named valid identifiers (the
	// failure record then reports functionError null).
	partial bool
}

// classifyResponse applies the partial-response rules (docs/semantics.md, "ESM
// partial batch responses"): an empty, null, non-object body, or a
// null/absent/empty batchItemFailures is success; an entry whose
// itemIdentifier is missing, null, "", not a string or not the sequence number
// of a record of this batch fails the whole batch; otherwise the lowest listed
// sequence number (compared as big integers) is where the batch is cut.
func classifyResponse(body []byte, batch []types.Record) verdict {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return verdict{failedAt: len(batch)} // "", [], null and other non-objects: success (observed on AWS)
	}
	var resp struct {
		Failures []map[string]json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		// batchItemFailures of the wrong shape (e.g. a string): AWS's
		// behaviour is undocumented; the safe reading is complete failure.
		return verdict{failedAt: 0}
	}
	ids := make([]string, len(resp.Failures))
	for i, f := range resp.Failures {
		raw, present := f["itemIdentifier"]
		if !present || json.Unmarshal(raw, &ids[i]) != nil {
			return verdict{failedAt: 0} // missing or not a string: complete failure (null reads as "")
		}
	}
	return cutAtLowest(ids, batch)
}

// classifyFailures is classifyResponse for a typed response (a Go handler
// returning a StreamResponse or KinesisEventResponse): its identifiers are
// strings already, so only the empty and unknown ones remain to judge.
func classifyFailures(failures []events.KinesisBatchItemFailure, batch []types.Record) verdict {
	ids := make([]string, len(failures))
	for i, f := range failures {
		ids[i] = f.ItemIdentifier
	}
	return cutAtLowest(ids, batch)
}

// cutAtLowest finds the lowest of the reported sequence numbers ids in
// batch; none reported is success, an empty or unknown one complete
// failure.
func cutAtLowest(ids []string, batch []types.Record) verdict {
	if len(ids) == 0 {
		return verdict{failedAt: len(batch)}
	}
	index := make(map[string]int, len(batch))
	for i, r := range batch {
		index[aws.ToString(r.SequenceNumber)] = i
	}
	lowest := -1
	var lowestN *big.Int
	for _, id := range ids {
		if id == "" {
			return verdict{failedAt: 0} // missing, null or "": complete failure
		}
		i, known := index[id]
		if !known {
			return verdict{failedAt: 0} // not a record of this batch
		}
		n, okN := new(big.Int).SetString(id, 10)
		if !okN {
			return verdict{failedAt: 0}
		}
		if lowestN == nil || n.Cmp(lowestN) < 0 {
			lowestN, lowest = n, i
		}
	}
	return verdict{failedAt: lowest, partial: true}
}

// decodeOutput extracts the sink records of a response; anything that is
// not a StreamResponse carries none.
func decodeOutput(body []byte) []sdk.OutputRecord {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	var resp struct {
		Records []sdk.OutputRecord `json:"records"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return nil
	}
	return resp.Records
}
