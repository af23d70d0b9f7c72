package streams

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// decimalAddDigits replaces a 188-bit conversion per sequence number;
// every carry case (within the number, past its first digit, many digits
// at once) must give what big.Int gives.
func TestDecimalAddDigits(t *testing.T) {
	cases := []struct{ prev, add string }{
		{"0", "1"},
		{"8", "1"},
		{"9", "1"},
		{"99", "1"},
		{"1999", "1"},
		{"12345", "0"},
		{"49598630142999", "1"},
		{"99999999999999999999", "1"},
		{"4959863014290707987315785478519592960", "7"},
		{"9", "18446744073709551615"},
		{"123", "18446744073709551615"},
		{"49546986683135544286507457936321625675700192471156785154", "1208925819614629174706176"},
		{"99999999999999999999999999999999999999999999999999999999", "1208925819614629174706176"},
	}
	for _, c := range cases {
		t.Run(c.prev+"+"+c.add, func(t *testing.T) {
			// A prefix in the buffer checks that only the last number is read.
			buf := append([]byte("777"), c.prev...)
			got := decimalAddDigits(buf, 3, len(buf), []byte(c.add))
			want, _ := new(big.Int).SetString(c.prev, 10)
			add, _ := new(big.Int).SetString(c.add, 10)
			want.Add(want, add)
			if string(got[:3+len(c.prev)]) != "777"+c.prev || string(got[3+len(c.prev):]) != want.String() {
				t.Errorf("got %q, want %q then %q", got, "777"+c.prev, want.String())
			}
		})
	}
}

// fastRecords must render the same sequence numbers as apiRecords for
// consecutive, gapped and carry-crossing counters.
func TestFastRecordsMatchesAPIRecords(t *testing.T) {
	key := newSeqKey(3, 7, 1_700_000_000_123)
	cases := map[string][]uint64{
		"consecutive":      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		"gaps":             {5, 9, 10, 99, 100, 1000, 123456789},
		"largest counters": {endCounter - 3, endCounter - 2, endCounter - 1},
		"one":              {42},
		"none":             {},
	}
	for name, counters := range cases {
		t.Run(name, func(t *testing.T) {
			recs := make([]shardRecord, len(counters))
			for i, c := range counters {
				// Arrival seconds go up, repeat and (a clock stepping
				// back) go down.
				ms := 1_700_000_000_000 + int64([]int{0, 1500, 1600, 900, 5000, 5000, -3000, 0, 1, 2, 70000}[i%11])
				recs[i] = shardRecord{Counter: c, ArrivalMillis: ms, Key: fmt.Sprint("k", i), Data: []byte{byte(i)}}
			}
			sh := &shard{seq: key}
			want, wantBytes := apiRecords(sh, recs)
			got, gotBytes := fastRecords(key, recs)
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
// it formats each sequence number from scratch. It converts stored records to the API's, returning also their
// bytes of key and data. One backing string holds all sequence numbers and
// one slab the times and keys: three allocations instead of three per
// record.
func apiRecords(sh *shard, recs []shardRecord) ([]types.Record, int) {
	out := make([]types.Record, len(recs))
	var buf []byte
	ends := make([]int, len(recs))
	bytes := 0
	for i := range recs {
		buf = appendSeq(buf, sh.seq, recs[i].Counter, recs[i].ArrivalMillis/1000)
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

// seqStep's eight-digits-at-a-time addition agrees with big.Int for
// numbers full of nines (every carry path) and random ones.
func TestSeqStepAddsLikeBigInt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prevs := []string{strings.Repeat("9", 56), "4" + strings.Repeat("9", 55), strings.Repeat("9", 40)}
	for i := 0; i < 300; i++ {
		b := make([]byte, 56)
		for j := range b {
			b[j] = byte('0' + r.IntN(10))
		}
		b[0] = byte('1' + r.IntN(9))
		prevs = append(prevs, string(b))
	}
	steps := [][2]int64{{1, 0}, {1, 1}, {7, 0}, {1, 3600}, {1 << 47, 1<<36 - 1}, {99999, 12345}}
	for _, prev := range prevs {
		for _, s := range steps {
			var st seqStep
			st.set(uint64(s[0]), s[1])
			got := st.appendNext([]byte("77"+prev), 2, 2+len(prev))
			want, _ := new(big.Int).SetString(prev, 10)
			want.Add(want, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(s[0]), 80), new(big.Int).Lsh(big.NewInt(s[1]), 36)))
			if string(got[2+len(prev):]) != want.String() {
				t.Fatalf("%s + step %v = %s, want %s", prev, s, got[2+len(prev):], want)
			}
		}
	}
}
