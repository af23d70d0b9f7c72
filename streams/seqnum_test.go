package streams

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The AWS layout, digit by digit (docs/semantics.md, "Sequence numbers"): "2",
// shard creation second (9 hex), shard index's low hex digit, counter (16
// hex), "00", arrival second (9 hex), shard index (8 hex), "2".
func TestSeqLayoutIsAWSs(t *testing.T) {
	k := newSeqKey(4, 0x1b, 1_700_000_000_999) // created 2023-11-14T22:13:20Z
	got := formatSeq(k, 0x1234, 1_700_000_123)
	want := fmt.Sprintf("2%09x%x%016x00%09x%08x2", 1_700_000_000, 0xb, 0x1234, 1_700_000_123, 0x1b)
	v, _ := new(big.Int).SetString(got, 10)
	if len(got) != 56 || v.Text(16) != want {
		t.Fatalf("formatSeq = %s (%d digits, hex %s), want hex %s", got, len(got), v.Text(16), want)
	}
	p, err := parseSeq(got)
	if err != nil || p.legacy || p.shard != 0x1b || p.counter != 0x1234 || p.secs != 1_700_000_123 || p.created != 1_700_000_000 || !p.issuedBy(k) {
		t.Fatalf("parseSeq(%s) = %+v, %v", got, p, err)
	}
}

// Every number is 56 digits, from a shard's StartingSequenceNumber to its
// EndingSequenceNumber, for any shard index and any time up to 2100, and
// numbers of a shard increase with the counter even when the arrival
// clock steps back.
func TestSeqAlways56DigitsAndOrderedByCounter(t *testing.T) {
	for _, idx := range []uint32{0, 1, 9, 15, 16, 1 << 20, 1<<31 - 1} { // the service's largest index is 2^31-1
		for _, created := range []int64{0, 1_420_070_400_000, 1_700_000_000_000, 4_102_444_800_000} {
			k := newSeqKey(1, idx, created)
			prev := new(big.Int)
			steps := []struct {
				counter uint64
				secs    int64
			}{
				{0, created / 1000}, {1, created/1000 + 100}, {2, created/1000 + 1}, // clock stepped back 99 s
				{3, 0}, {1 << 40, 4_102_444_800}, {endCounter, created / 1000},
			}
			for _, st := range steps {
				s := formatSeq(k, st.counter, st.secs)
				if len(s) != 56 {
					t.Fatalf("shard %d created %d counter %d: %q has %d digits", idx, created, st.counter, s, len(s))
				}
				v, _ := new(big.Int).SetString(s, 10)
				if v.Cmp(prev) <= 0 {
					t.Fatalf("shard %d counter %d at %d s: %s not above the previous %s", idx, st.counter, st.secs, s, prev)
				}
				prev = v
				p, err := parseSeq(s)
				if err != nil || p.counter != st.counter || p.shard != idx || !p.issuedBy(k) {
					t.Fatalf("parseSeq(%s) = %+v, %v", s, p, err)
				}
			}
		}
	}
}

// State directories from before the AWS layout hold 38/39-digit numbers:
// they still parse to the same counter and shard, belong to the shard of
// the same incarnation, and sort below every new number of that shard.
func TestSeqOldLayoutAccepted(t *testing.T) {
	k := newSeqKey(3, 2, 1_700_000_000_000)
	for _, counter := range []uint64{0, 1, 41, 1 << 40, endCounter} {
		old := formatLegacySeq(3, 2, counter)
		if n := len(old); n < 38 || n > 39 {
			t.Fatalf("legacy number %s has %d digits", old, n)
		}
		p, err := parseSeq(old)
		if err != nil || !p.legacy || p.counter != counter || p.shard != 2 || !p.issuedBy(k) {
			t.Fatalf("parseSeq(%s) = %+v, %v", old, p, err)
		}
		if q, _ := parseSeq(formatLegacySeq(4, 2, counter)); q.issuedBy(k) {
			t.Errorf("a number of incarnation 4 was taken for incarnation 3's")
		}
		oldV, _ := new(big.Int).SetString(old, 10)
		newV, _ := new(big.Int).SetString(startSeq(k), 10)
		if oldV.Cmp(newV) >= 0 {
			t.Errorf("old %s does not sort below the new StartingSequenceNumber %s", old, startSeq(k))
		}
	}
}

func TestSeqRejectsForeignNumbers(t *testing.T) {
	k := newSeqKey(3, 0, 1_700_000_000_000)
	good := formatSeq(k, 5, 1_700_000_001)
	for _, s := range []string{
		"", "0", "5", "abc", "-1",
		"49546986683135544286507457936321625675700192471156785154", // AWS's, another shard's creation time
		strings.Replace(good, good[len(good)-1:], "3", 1),          // last hex digit not 2
		good + "0",
		formatSeq(newSeqKey(3, 0, 1_700_000_005_000), 5, 1_700_000_001), // same index, other creation second
	} {
		if p, err := parseSeq(s); err == nil && p.issuedBy(k) {
			t.Errorf("parseSeq(%q) = %+v, accepted for the shard", s, p)
		}
	}
}

// The service's reading of numbers it never issued, as the suite recorded
// it (getShardIterator): "5" is a version-0 number of shard 5, "0" one of
// shard 0, a version-0 number with a creation time past year 2477 is
// invalid, and a shard index with its top bit set is negative.
func TestForeignSeq(t *testing.T) {
	hex := func(h string) string { v, _ := new(big.Int).SetString(h, 16); return v.String() }
	cases := []struct {
		seq  string
		want foreignInfo
	}{
		{"5", foreignInfo{ok: true, version: 0, shard: 5}},
		{"0", foreignInfo{ok: true, version: 0, shard: 0}},
		{hex("13bb2cc3d80000000000000000000000"), foreignInfo{}},
		{hex("20000000000800000000000000000000000000000000002"), foreignInfo{}},
		{hex("20000000000000000000000000000000000000800000002"), foreignInfo{ok: true, version: 2, shard: -1 << 31}},
	}
	for _, c := range cases {
		if got := foreignSeq(c.seq); got != c.want {
			t.Errorf("foreignSeq(%s) = %+v, want %+v", c.seq, got, c.want)
		}
	}
	if got := foreignShardID(-1 << 31); got != "shardId--02147483648" {
		t.Errorf("foreignShardID = %q", got)
	}
}

func TestAppendSeqDoesNotAllocate(t *testing.T) {
	k := newSeqKey(1, 3, 1_700_000_000_000)
	buf := make([]byte, 0, 128)
	var step seqStep
	step.set(1, 0)
	if n := testing.AllocsPerRun(100, func() {
		b := appendSeq(buf[:0], k, 12345, 1_700_000_001)
		_ = step.appendNext(b, 0, len(b))
	}); n != 0 {
		t.Errorf("appendSeq + seqStep allocate %.0f times", n)
	}
}

// A checkpoint written before the AWS layout holds an old number: over
// the API, AFTER_SEQUENCE_NUMBER with it resumes at the next record and
// AT_SEQUENCE_NUMBER at the record itself; the records' new numbers are
// all above it.
func TestOldCheckpointResumes(t *testing.T) {
	ctx := context.Background()
	e := openTest(t, Options{})
	mustCreate(t, e, "s", 1)
	c := sdkClient(t, e)
	var put []string
	for i := 0; i < 5; i++ {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		put = append(put, *out.SequenceNumber)
	}
	p, err := parseSeq(put[2])
	if err != nil {
		t.Fatal(err)
	}
	e.mu.RLock()
	inc := e.streams["s"].inc
	e.mu.RUnlock()
	old := formatLegacySeq(inc, 0, p.counter) // record 2 as an old state dir names it
	for typ, first := range map[types.ShardIteratorType]int{types.ShardIteratorTypeAfterSequenceNumber: 3, types.ShardIteratorTypeAtSequenceNumber: 2} {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: typ, StartingSequenceNumber: aws.String(old)})
		if err != nil {
			t.Fatalf("%s %s: %v", typ, old, err)
		}
		got, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Records) != 5-first || *got.Records[0].SequenceNumber != put[first] {
			t.Fatalf("%s %s: got %d records from %v, want from %s", typ, old, len(got.Records), seqs(got.Records), put[first])
		}
	}
	oldV, _ := new(big.Int).SetString(old, 10)
	for _, s := range put {
		if v, _ := new(big.Int).SetString(s, 10); v.Cmp(oldV) <= 0 || len(s) != 56 {
			t.Errorf("new number %s not 56 digits above the old %s", s, old)
		}
	}
}
