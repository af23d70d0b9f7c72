package streams

import (
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams/internal/shardlog"
)

// decimalAdd replaces a 128-bit division per sequence number; every carry
// case (within the number, past its first digit, many digits at once) must
// give what big.Int gives.
func TestDecimalAdd(t *testing.T) {
	cases := []struct {
		prev string
		d    uint64
	}{
		{"0", 1},
		{"8", 1},
		{"9", 1},
		{"99", 1},
		{"1999", 1},
		{"12345", 0},
		{"49598630142999", 1},
		{"99999999999999999999", 1},
		{"4959863014290707987315785478519592960", 7},
		{"4959863014290707987315785478519592999", 1001},
		{"9", 18446744073709551615},
		{"123", 18446744073709551615},
		{"99999999999999999999999999999999999999", 18446744073709551615},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s+%d", c.prev, c.d), func(t *testing.T) {
			// A prefix in the buffer checks that only the last number is read.
			buf := append([]byte("777"), c.prev...)
			got := decimalAdd(buf, 3, len(buf), c.d)
			want := new(big.Int)
			want.SetString(c.prev, 10)
			want.Add(want, new(big.Int).SetUint64(c.d))
			if string(got[:3+len(c.prev)]) != "777"+c.prev || string(got[3+len(c.prev):]) != want.String() {
				t.Errorf("got %q, want %q then %q", got, "777"+c.prev, want.String())
			}
		})
	}
}

// fastRecords must render the same sequence numbers as apiRecords for
// consecutive, gapped and carry-crossing counters.
func TestFastRecordsMatchesAPIRecords(t *testing.T) {
	hi := seqHigh(3, 7)
	cases := map[string][]uint64{
		"consecutive":      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		"gaps":             {5, 9, 10, 99, 100, 1000, 123456789},
		"carry everywhere": {1<<64 - 3, 1<<64 - 2, 1<<64 - 1},
		"one":              {42},
		"none":             {},
	}
	for name, counters := range cases {
		t.Run(name, func(t *testing.T) {
			recs := make([]shardlog.Record, len(counters))
			for i, c := range counters {
				recs[i] = shardlog.Record{Counter: c, ArrivalMillis: int64(1000 + i), Key: fmt.Sprint("k", i), Data: []byte{byte(i)}}
			}
			sh := &shard{seqHi: hi}
			want, wantBytes := apiRecords(sh, recs)
			got, gotBytes := fastRecords(hi, recs)
			if gotBytes != wantBytes || !reflect.DeepEqual(got, want) {
				t.Errorf("fastRecords differs from apiRecords:\n got %v (%d bytes)\nwant %v (%d bytes)", seqs(got), gotBytes, seqs(want), wantBytes)
			}
		})
	}
}

func seqs(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = aws.ToString(r.SequenceNumber)
	}
	return out
}

// apiRecords is the plain conversion fastRecords is checked against:
// it formats each 128-bit sequence number from scratch. It converts stored records to the API's, returning also their
// bytes of key and data. One backing string holds all sequence numbers and
// one slab the times and keys: three allocations instead of three per
// record.
func apiRecords(sh *shard, recs []shardlog.Record) ([]types.Record, int) {
	out := make([]types.Record, len(recs))
	var buf []byte
	ends := make([]int, len(recs))
	bytes := 0
	for i := range recs {
		buf = appendSeq(buf, sh.seqHi, recs[i].Counter)
		ends[i] = len(buf)
		bytes += len(recs[i].Data) + len(recs[i].Key)
	}
	all := string(buf)
	strs := make([]string, 2*len(recs))
	times := make([]time.Time, len(recs))
	startOff := 0
	for i := range recs {
		r := &recs[i]
		strs[2*i] = all[startOff:ends[i]]
		startOff = ends[i]
		strs[2*i+1] = r.Key
		times[i] = time.UnixMilli(r.ArrivalMillis)
		out[i] = types.Record{
			Data:                        r.Data,
			PartitionKey:                &strs[2*i+1],
			SequenceNumber:              &strs[2*i],
			ApproximateArrivalTimestamp: &times[i],
		}
	}
	return out, bytes
}
