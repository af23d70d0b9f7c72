package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The data plane: PutRecord(s), GetShardIterator, GetRecords and the
// in-process WaitForRecords. Operations take and return aws-sdk-go-v2 types
// so the HTTP API and the in-process Client share one implementation.

const (
	maxPutRecords      = 500
	maxPutRecordsBytes = 5 << 20
	maxGetRecords      = 10000
	maxGetBytes        = 10 << 20
	maxKeyChars        = 256
)

// lookup resolves a stream from StreamName and/or StreamARN. Every
// operation that takes a StreamARN or a ConsumerARN (whose stream part
// comes here) goes through it, so none can act on our stream for an ARN
// of another account or region.
func (e *Engine) lookup(name, arn *string) (*stream, error) {
	var n string
	switch {
	case arn != nil:
		var err error
		if n, err = e.streamOfARN(*arn); err != nil {
			return nil, err
		}
		if name != nil && *name != n {
			return nil, errInvalid("StreamARN %s and StreamName %s do not refer to the same stream.", *arn, *name)
		}
	case name != nil:
		n = *name
	default:
		return nil, errInvalid("Either StreamName or StreamARN should be provided.")
	}
	e.mu.RLock()
	s := e.streams[n]
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return nil, errInternal(errEngineClosed)
	}
	if s == nil {
		return nil, e.streamNotFound(n)
	}
	return s, nil
}

// streamOfARN returns the name of the stream a StreamARN names, after
// checking the ARN has the service's pattern
// (arn:aws.*:kinesis:.*:\d{12}:stream/\S+, a ValidationException
// otherwise) and names this engine's account and region.
//
// An ARN of another account or region is refused with
// AccessDeniedException (HTTP 400, as the Kinesis API reference lists it
// for every operation taking an ARN): that is what AWS answers a caller
// whose request names a stream of an account that no resource policy
// opens to it ("User: ... is not authorized to perform: kinesis:PutRecord
// on resource: arn:...", seen in public reports for cross-account calls).
// What AWS answers for an ARN of another region sent to a region's
// endpoint is not documented; treating it the same is our guess. Before
// this check a foreign ARN was matched by its stream name alone and acted
// on our stream of that name.
func (e *Engine) streamOfARN(arn string) (string, error) {
	partition, region, account, name, ok := splitStreamARN(arn)
	if !ok {
		return "", validationOf(arn, "streamARN", "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+")
	}
	if partition != "aws" || region != e.opts.Region || account != e.opts.AccountID {
		return "", errAccessDenied("User is not authorized to access resource %s: it belongs to account %s in region %s (partition %s), and this endpoint serves only account %s in region %s; no resource policy grants access across accounts or regions here.",
			arn, account, region, partition, e.opts.AccountID, e.opts.Region)
	}
	return name, nil
}

// checkARN is streamOfARN for operations that name the stream in a
// message before looking it up (the shard operations): a foreign ARN is
// refused before anything else is said about it.
func (e *Engine) checkARN(arn *string) error {
	if arn == nil {
		return nil
	}
	_, err := e.streamOfARN(*arn)
	return err
}

// splitStreamARN splits arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME;
// ok is false unless the ARN has the service's pattern with a valid
// stream name.
func splitStreamARN(arn string) (partition, region, account, name string, ok bool) {
	i := strings.Index(arn, ":stream/")
	if i < 0 {
		return
	}
	head, name := arn[:i], arn[i+len(":stream/"):]
	j := strings.LastIndexByte(head, ':')
	if j < 0 {
		return
	}
	account = head[j+1:]
	f := strings.SplitN(head[:j], ":", 4) // arn, partition, kinesis, region
	if len(f) != 4 || f[0] != "arn" || !strings.HasPrefix(f[1], "aws") || f[2] != "kinesis" || len(account) != 12 || !isDigits(account) || !validStreamName(name) {
		return "", "", "", "", false
	}
	return f[1], f[3], account, name, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (e *Engine) streamNotFound(name string) error {
	return errNotFound("Stream %s under account %s not found.", name, e.opts.AccountID)
}

func validationOf(value any, field, constraint string) error {
	var v validation
	v.add(value, field, constraint)
	return v.err()
}

// checkRecord validates one record's model constraints and returns its hash
// key. EHK range errors are semantic (InvalidArgumentException), reported
// after all model errors. i is the record's position in a PutRecords call
// (-1 for PutRecord), named in validation messages; the name is built only
// when one is needed, not for each of 500 valid records.
func checkRecord(v *validation, i int, key *string, data []byte, ehk *string, maxData int) (u128, error) {
	var h u128
	var rangeErr error
	field := ""
	if (key == nil || len(*key) == 0 || len(*key) > maxKeyChars || data == nil || len(data) > maxData || ehk != nil) && i >= 0 {
		field = "records." + strconv.Itoa(i+1) + ".member."
	}
	switch {
	case key == nil:
		v.add(nil, field+"partitionKey", "Member must not be null")
	case len(*key) == 0:
		v.add(*key, field+"partitionKey", "Member must have length greater than or equal to 1")
	case len(*key) > maxKeyChars && utf8.RuneCountInString(*key) > maxKeyChars:
		v.add(*key, field+"partitionKey", "Member must have length less than or equal to 256")
	}
	if data == nil {
		// JSON null or absent; the model requires the member.
		v.add(nil, field+"data", "Member must not be null")
	} else if len(data) > maxData {
		v.add(fmt.Sprintf("java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", len(data), len(data)), field+"data", fmt.Sprintf("Member must have length less than or equal to %d", maxData))
	}
	if key != nil && len(*key) > 0 {
		if msg := keyProblem(*key); msg != "" {
			rangeErr = errInvalid("Invalid PartitionKey. %s%s", msg, recordSuffix(i))
		}
	}
	if ehk != nil {
		var err error
		h, err = parseU128(*ehk)
		if err != nil && rangeErr == nil {
			// At most 39 digits (the pattern): a longer number is a
			// model violation, not one out of range.
			if isDecimal(*ehk) && len(*ehk) <= 39 {
				rangeErr = errInvalid("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *ehk)
			} else {
				v.add(*ehk, field+"explicitHashKey", "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
			}
		}
	} else if key != nil {
		h = hashKeyOf(*key)
	}
	return h, rangeErr
}

// keyProblem says why a partition key is not one the service stores, or
// "". Partition keys are "Unicode strings" (API reference,
// PutRecordsRequestEntry); the model has no pattern for them.
//
// Verified: the length limits (1–256) and that a refused entry refuses the
// whole PutRecords call (ExplicitHashKey out of range is answered for the
// call, not per record, in kinesalite's AWS recordings; the per-record
// codes are only ProvisionedThroughputExceededException and
// InternalFailure).
// Our choice, not verified against AWS: a NUL (U+0000) and bytes that are
// not UTF-8 are refused with InvalidArgumentException, the service's type
// for "a specified parameter ... can't be used". Such keys cannot be read
// back the same by every consumer (C strings end at NUL, Java and
// JavaScript replace invalid UTF-8), so two different keys could seem one.
// Over JSON, raw invalid UTF-8 and lone surrogate escapes never get here:
// the body is refused first (jsonUnicodeProblem); over CBOR the decoder
// refuses a text string that is not UTF-8; the in-process Client and a
// NUL over any codec are caught here.
func keyProblem(k string) string {
	// Every key of every PutRecords passes here: eight bytes at a time,
	// any byte that is zero or has its high bit set (0x80 after
	// subtracting one, or already) sends the key to the exact check.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(k); i += 8 {
		x := uint64(k[i]) | uint64(k[i+1])<<8 | uint64(k[i+2])<<16 | uint64(k[i+3])<<24 |
			uint64(k[i+4])<<32 | uint64(k[i+5])<<40 | uint64(k[i+6])<<48 | uint64(k[i+7])<<56
		if (x|(x-ones))&highs != 0 {
			return keyProblemOf(k)
		}
	}
	for ; i < len(k); i++ {
		if c := k[i]; c == 0 || c >= 0x80 {
			return keyProblemOf(k)
		}
	}
	return ""
}

// keyProblemOf is keyProblem's exact check, for keys with a zero byte or
// bytes past ASCII.
func keyProblemOf(k string) string {
	if i := strings.IndexByte(k, 0); i >= 0 {
		return fmt.Sprintf("PartitionKey must be Unicode text without NUL characters; the key has a NUL (U+0000) at byte offset %d", i)
	}
	if !utf8.ValidString(k) {
		i := 0
		for i < len(k) {
			r, n := utf8.DecodeRuneInString(k[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Sprintf("PartitionKey must be Unicode text (UTF-8); the key has the invalid byte 0x%02x at byte offset %d", k[i], i)
	}
	return ""
}

// recordSuffix names record i of a PutRecords call (i >= 0) at the end of
// a message, as the service's "... for record 2." does.
func recordSuffix(i int) string {
	if i < 0 {
		return "."
	}
	return " for record " + strconv.Itoa(i+1) + "."
}

func isDecimal(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// writable reports whether s accepts data-plane calls. Callers hold s.mu.
func (e *Engine) writableLocked(s *stream) error {
	if s.status != types.StreamStatusActive && s.status != types.StreamStatusUpdating {
		return e.streamNotFound(s.name)
	}
	return nil
}

func (e *Engine) throttledMsg(s *stream, sh *shard) string {
	return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", sh.id, s.name, e.opts.AccountID)
}

// putGroup is the slice of one PutRecords request bound for one shard.
type putGroup struct {
	sh      *shard
	n       int // records routed here
	entries []shardEntry
	idx     []int // positions in the request
	pending *shardPending
}

func (e *Engine) putRecords(ctx context.Context, in *kinesis.PutRecordsInput) (*kinesis.PutRecordsOutput, error) {
	if in == nil {
		in = &kinesis.PutRecordsInput{}
	}
	var v validation
	n := len(in.Records)
	if n < 1 {
		v.add("[]", "records", "Member must have length greater than or equal to 1")
	} else if n > maxPutRecords {
		v.add(fmt.Sprintf("[%d records]", n), "records", "Member must have length less than or equal to 500")
	}
	v.streamName(in.StreamName, "streamName", false)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	maxRec := int(s.maxKiB) << 10
	hashes := make([]u128, n)
	total := 0
	var semantic error
	for i := range in.Records {
		r := &in.Records[i]
		h, err := checkRecord(&v, i, r.PartitionKey, r.Data, r.ExplicitHashKey, maxRec)
		if err != nil && semantic == nil {
			semantic = err
		}
		hashes[i] = h
		size := len(r.Data)
		if r.PartitionKey != nil {
			size += len(*r.PartitionKey)
		}
		if size > maxRec && semantic == nil && len(r.Data) <= maxRec {
			semantic = errInvalid("Record size of data and partition key exceeds %d bytes for record %d.", maxRec, i+1)
		}
		total += size
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if semantic != nil {
		return nil, semantic
	}
	if total > maxPutRecordsBytes {
		return nil, errInvalid("Records size exceeds 5 MB limit")
	}

	out := make([]types.PutRecordsResultEntry, n)
	var groups []putGroup
	now := e.now()
	failed := int32(0)
	// Routing fills group[i] (-1: throttled) and counts each group, so the
	// groups' entries and positions are carved from one array each.
	group := make([]int32, n)
	s.mu.RLock()
	if err := e.writableLocked(s); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	for i := range in.Records {
		r := &in.Records[i]
		sh := s.route(hashes[i])
		if sh == nil {
			s.mu.RUnlock()
			return nil, errInternal(fmt.Errorf("no open shard holds hash key %s", hashes[i]))
		}
		if sh.lim != nil && !sh.lim.allowWrite(now, len(r.Data)+len(*r.PartitionKey)) {
			sh.heat.throttled(now, *r.PartitionKey)
			out[i].ErrorCode = aws.String("ProvisionedThroughputExceededException")
			out[i].ErrorMessage = aws.String(e.throttledMsg(s, sh))
			failed++
			group[i] = -1
			continue
		}
		g := findGroup(&groups, sh)
		group[i] = int32(g)
		groups[g].n++
	}
	entries := make([]shardEntry, n-int(failed))
	idx := make([]int, n-int(failed))
	off := 0
	for gi := range groups {
		g := &groups[gi]
		g.entries, g.idx = entries[off:off:off+g.n], idx[off:off:off+g.n]
		off += g.n
	}
	for i, gi := range group {
		if gi < 0 {
			continue
		}
		g := &groups[gi]
		g.entries = append(g.entries, shardEntry{Key: *in.Records[i].PartitionKey, Data: in.Records[i].Data})
		g.idx = append(g.idx, i)
	}
	// Queue while holding the read lock: a reshard (write lock) then knows
	// every append routed to a shard it closes is already queued ahead of
	// its barrier.
	for gi := range groups {
		groups[gi].pending = groups[gi].sh.log.Append(groups[gi].entries)
	}
	s.mu.RUnlock()

	// One string holds every sequence number: two allocations instead of
	// one per record.
	type seqRef struct{ i, start, end int }
	refs := make([]seqRef, 0, n)
	buf := make([]byte, 0, n*maxSeqDigits)
	throttled := int(failed)
	ackedBytes := 0
	var storageErr error
	var nextCounter seqStep
	nextCounter.set(1, 0)
	for gi := range groups {
		g := &groups[gi]
		first, millis, err := g.pending.Wait()
		if err != nil {
			// The shard log failed this group's commit and cut it off:
			// none of these records was written or will ever be served.
			e.log.Error("append records", "stream", s.name, "shard", g.sh.id, "err", err)
			if storageErr == nil {
				storageErr = err
			}
			msg := aws.String(storageMessage(err))
			for _, i := range g.idx {
				// One of the two per-record codes PutRecords has
				// (docs/semantics.md, "PutRecords validation").
				out[i].ErrorCode = aws.String("InternalFailure")
				out[i].ErrorMessage = msg
				failed++
			}
			continue
		}
		g.sh.heat.observe(now, g.entries)
		prev := 0
		for k, i := range g.idx {
			start := len(buf)
			if k == 0 {
				buf = appendSeq(buf, g.sh.seq, first, millis/1000)
			} else {
				// Counters are consecutive and the arrival time shared, so
				// each number is the previous one plus 2^80: a copy and a
				// decimal addition instead of a 188-bit conversion.
				buf = nextCounter.appendNext(buf, prev, start)
			}
			prev = start
			refs = append(refs, seqRef{i, start, len(buf)})
			out[i].ShardId = &g.sh.id
			ackedBytes += len(g.entries[k].Data) + len(g.entries[k].Key)
		}
	}
	if storageErr != nil && len(refs) == 0 {
		// Nothing was written: fail the call as a whole, so the SDK's
		// retry (503 is retryable) resends it, instead of a 200 whose
		// FailedRecordCount many producers never look at.
		return nil, errStorage(storageErr)
	}
	// buf is not touched again, so the strings can share its memory.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	seqs := make([]string, len(refs))
	for j, r := range refs {
		seqs[j] = all[r.start:r.end]
		out[r.i].SequenceNumber = &seqs[j]
	}
	s.m.putRecords.Add(float64(len(refs)))
	s.m.putBytes.Add(float64(ackedBytes))
	if throttled > 0 {
		s.m.throttled.Add(float64(throttled))
	}
	return &kinesis.PutRecordsOutput{
		Records:           out,
		FailedRecordCount: aws.Int32(failed),
	}, nil
}

func findGroup(groups *[]putGroup, sh *shard) int {
	for i := range *groups {
		if (*groups)[i].sh == sh {
			return i
		}
	}
	*groups = append(*groups, putGroup{sh: sh})
	return len(*groups) - 1
}

func (e *Engine) putRecord(ctx context.Context, in *kinesis.PutRecordInput) (*kinesis.PutRecordOutput, error) {
	if in == nil {
		in = &kinesis.PutRecordInput{}
	}
	var v validation
	v.streamName(in.StreamName, "streamName", false)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	maxRec := int(s.maxKiB) << 10
	h, semantic := checkRecord(&v, -1, in.PartitionKey, in.Data, in.ExplicitHashKey, maxRec)
	if err := v.err(); err != nil {
		return nil, err
	}
	if semantic != nil {
		return nil, semantic
	}
	if len(in.Data)+len(*in.PartitionKey) > maxRec {
		return nil, errInvalid("Record size of data and partition key exceeds %d bytes.", maxRec)
	}
	if o := in.SequenceNumberForOrdering; o != nil {
		// Our counters strictly increase per shard, so the ordering promise
		// holds by construction; only the number's form is checked.
		if !orderingSeqOK(*o, e.now().Unix()) {
			return nil, errInvalid("ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.", *o, s.name, e.opts.AccountID)
		}
	}
	s.mu.RLock()
	if err := e.writableLocked(s); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	sh := s.route(h)
	if sh == nil {
		s.mu.RUnlock()
		return nil, errInternal(fmt.Errorf("no open shard holds hash key %s", h))
	}
	if sh.lim != nil && !sh.lim.allowWrite(e.now(), len(in.Data)+len(*in.PartitionKey)) {
		sh.heat.throttled(e.now(), *in.PartitionKey)
		s.mu.RUnlock()
		s.m.throttled.Inc()
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String(e.throttledMsg(s, sh))}
	}
	p := sh.log.Append([]shardEntry{{Key: *in.PartitionKey, Data: in.Data}})
	s.mu.RUnlock()
	first, millis, err := p.Wait()
	if err != nil {
		e.log.Error("append record", "stream", s.name, "shard", sh.id, "err", err)
		return nil, errStorage(err)
	}
	sh.heat.observe(e.now(), []shardEntry{{Key: *in.PartitionKey, Data: in.Data}})
	s.m.putRecords.Inc()
	s.m.putBytes.Add(float64(len(in.Data) + len(*in.PartitionKey)))
	return &kinesis.PutRecordOutput{
		ShardId:        aws.String(sh.id),
		SequenceNumber: aws.String(formatSeq(sh.seq, first, millis/1000)),
	}, nil
}

func (e *Engine) getShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput) (*kinesis.GetShardIteratorOutput, error) {
	if in == nil {
		in = &kinesis.GetShardIteratorInput{}
	}
	var v validation
	v.streamName(in.StreamName, "streamName", false)
	if in.ShardId == nil {
		v.add(nil, "shardId", "Member must not be null")
	}
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber,
		types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest, types.ShardIteratorTypeAtTimestamp:
	case "":
		v.add(nil, "shardIteratorType", "Member must not be null")
	default:
		v.add(string(in.ShardIteratorType), "shardIteratorType", "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := e.checkARN(in.StreamARN); err != nil {
		return nil, err
	}
	// The service reads the shard ID first, then names the shard, not the
	// stream, when either is unknown.
	idx, ok := parseShardID(*in.ShardId)
	if !ok {
		return nil, errNotFound("Could not find shard %s in stream %s under account %s.", *in.ShardId, streamNameOf(in.StreamName, in.StreamARN), e.opts.AccountID)
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, errNotFound("Shard %s in stream %s under account %s does not exist", shardID(idx), streamNameOf(in.StreamName, in.StreamARN), e.opts.AccountID)
	}
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	status := s.status
	sh := s.shard(*in.ShardId)
	s.mu.RUnlock()
	if status == types.StreamStatusCreating {
		return nil, e.streamNotFound(s.name)
	}
	if sh == nil {
		return nil, errNotFound("Shard %s in stream %s under account %s does not exist", shardID(idx), s.name, e.opts.AccountID)
	}
	typ := in.ShardIteratorType
	bySeq := typ == types.ShardIteratorTypeAtSequenceNumber || typ == types.ShardIteratorTypeAfterSequenceNumber
	if bySeq != (in.StartingSequenceNumber != nil) {
		got := "no StartingSequenceNumber"
		if in.StartingSequenceNumber != nil {
			got = "also a StartingSequenceNumber"
		}
		return nil, errInvalid("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and %s.", typ, got)
	}
	now := e.now()
	pos, err := e.position(s, sh, typ, in.StartingSequenceNumber, in.Timestamp, now)
	if err != nil {
		return nil, err
	}
	return &kinesis.GetShardIteratorOutput{
		ShardIterator: aws.String(e.encodeIterator(iterator{inc: s.inc, shard: sh.index, pos: pos, issued: now.UnixMilli()})),
	}, nil
}

// position turns a starting position (the five iterator types of
// docs/semantics.md, "Shard iterators") into the counter of the first record
// to return. GetShardIterator and SubscribeToShard share it.
func (e *Engine) position(s *stream, sh *shard, typ types.ShardIteratorType, seq *string, ts *time.Time, now time.Time) (uint64, error) {
	var pos uint64
	var err error
	switch typ {
	case types.ShardIteratorTypeTrimHorizon:
		pos = 0 // reads skip what retention has expired
	case types.ShardIteratorTypeLatest:
		pos = sh.log.Next()
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		p, err := parseSeq(*seq)
		if err != nil {
			// Not one of ours: answer what the service answers for the
			// number's layout (seqnum.go, foreignSeq).
			f := foreignSeq(*seq)
			switch {
			case !f.ok:
				return 0, errInvalid("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", *seq, sh.id, s.name, e.opts.AccountID)
			case f.shard != int64(sh.index):
				return 0, errInvalid("Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", foreignShardID(f.shard), sh.id)
			case f.version == 0:
				return 0, internalFailure{}
			}
			return 0, errInvalid("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.", *seq, sh.id, s.name, e.opts.AccountID)
		}
		if p.shard != sh.index {
			return 0, errInvalid("Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardID(p.shard), sh.id)
		}
		if !p.issuedBy(sh.seq) {
			return 0, errInvalid("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream.", *seq, sh.id, s.name, e.opts.AccountID)
		}
		counter := p.counter
		pos = counter
		if typ == types.ShardIteratorTypeAfterSequenceNumber && counter < endCounter {
			pos = counter + 1
		}
	case types.ShardIteratorTypeAtTimestamp:
		if ts == nil {
			return 0, errInvalid("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		ts := ts.UnixMilli()
		if ts > now.UnixMilli() {
			return 0, errInvalid("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", ts, now.UnixMilli())
		}
		pos, err = sh.log.SeekTime(max(ts, s.trimHorizon(now)))
		if err != nil {
			return 0, errInternal(fmt.Errorf("seek shard %s: %w", sh.id, err))
		}
	}
	return pos, nil
}

// resolveIterator checks an iterator's signature and finds its shard.
func (e *Engine) resolveIterator(text string) (iterator, *stream, *shard, error) {
	it, ok := e.decodeIterator(text)
	if !ok {
		return it, nil, nil, errInvalid("Invalid ShardIterator.")
	}
	e.mu.RLock()
	s := e.byInc[it.inc]
	e.mu.RUnlock()
	if s == nil {
		e.mu.RLock()
		name, known := e.goneNames[it.inc]
		e.mu.RUnlock()
		if known {
			return it, nil, nil, errNotFound("Shard %s in stream %s under account %s does not exist", shardID(it.shard), name, e.opts.AccountID)
		}
		return it, nil, nil, errNotFound("The stream this shard iterator was issued for under account %s no longer exists.", e.opts.AccountID)
	}
	s.mu.RLock()
	var sh *shard
	if int(it.shard) < len(s.shards) {
		sh = s.shards[it.shard]
	}
	s.mu.RUnlock()
	if sh == nil {
		return it, nil, nil, errInvalid("Invalid ShardIterator.")
	}
	return it, s, sh, nil
}

func (e *Engine) getRecords(ctx context.Context, in *kinesis.GetRecordsInput) (*kinesis.GetRecordsOutput, error) {
	if in == nil {
		in = &kinesis.GetRecordsInput{}
	}
	var v validation
	if in.ShardIterator == nil {
		v.add(nil, "shardIterator", "Member must not be null")
	} else if len(*in.ShardIterator) < 1 || len(*in.ShardIterator) > 512 {
		v.add(*in.ShardIterator, "shardIterator", "Member must have length between 1 and 512")
	}
	if in.Limit != nil && *in.Limit < 1 {
		v.add(*in.Limit, "limit", "Member must have value greater than or equal to 1")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := maxGetRecords
	if in.Limit != nil {
		if *in.Limit > maxGetRecords {
			return nil, validationOf(*in.Limit, "limit", fmt.Sprintf("Member must have value less than or equal to %d", maxGetRecords))
		}
		limit = int(*in.Limit)
	}
	// The iterator names the stream; a StreamARN (optional, used by the
	// SDKs to pick an endpoint) must still be one of ours, and its own.
	if err := e.checkARN(in.StreamARN); err != nil {
		return nil, err
	}
	it, s, sh, err := e.resolveIterator(*in.ShardIterator)
	if err != nil {
		return nil, err
	}
	if in.StreamARN != nil && *in.StreamARN != s.arn {
		return nil, errInvalid("StreamARN %s does not name the stream of the shard iterator, %s.", *in.StreamARN, s.arn)
	}
	now := e.now()
	if age := now.UnixMilli() - it.issued; age > iteratorTTL.Milliseconds() {
		return nil, &types.ExpiredIteratorException{Message: aws.String(fmt.Sprintf(
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.UnixMilli(it.issued).UTC().Format(amzDate), now.UTC().Format(amzDate), iteratorTTL.Milliseconds()))}
	}
	e.metrics.noteShard(s.name, sh.id)
	e.metrics.getCalls.WithLabelValues(s.name, sh.id).Inc()
	if sh.lim != nil && !sh.lim.allowRead(now) {
		e.metrics.getThrottled.WithLabelValues(s.name, sh.id).Inc()
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String(e.throttledMsg(s, sh))}
	}
	recs, next, err := sh.log.Read(it.pos, s.trimHorizon(now), limit, maxGetBytes, nil)
	if err != nil {
		return nil, errInternal(fmt.Errorf("read shard %s: %w", sh.id, err))
	}
	apiRecs, bytes := fastRecords(sh.seq, recs)
	out := &kinesis.GetRecordsOutput{Records: apiRecs}
	if sh.lim != nil {
		sh.lim.chargeRead(bytes)
	}
	e.metrics.getRecords.WithLabelValues(s.name, sh.id).Add(float64(len(recs)))
	tip, _ := sh.log.Tip()
	s.mu.RLock()
	closed := sh.closed
	var children []types.ChildShard
	if closed && next >= tip {
		children = s.childrenLocked(sh)
	}
	s.mu.RUnlock()
	behind := int64(0)
	if next < tip && len(recs) > 0 {
		behind = max(now.UnixMilli()-recs[len(recs)-1].ArrivalMillis, 0)
	}
	out.MillisBehindLatest = aws.Int64(behind)
	if closed && next >= tip {
		// Shard end: no iterator, and the children to read next
		// (docs/semantics.md, "GetRecords and shard end").
		out.ChildShards = children
		if out.ChildShards == nil {
			out.ChildShards = []types.ChildShard{}
		}
	} else {
		out.NextShardIterator = aws.String(e.encodeIterator(iterator{inc: it.inc, shard: it.shard, pos: next, issued: now.UnixMilli()}))
	}
	return out, nil
}

// childrenLocked lists the shards created from sh. Callers hold s.mu.
func (s *stream) childrenLocked(sh *shard) []types.ChildShard {
	var out []types.ChildShard
	for _, c := range s.shards {
		if c.parent == sh.id || c.adjParent == sh.id {
			parents := []string{c.parent}
			if c.adjParent != "" {
				parents = append(parents, c.adjParent)
			}
			out = append(out, types.ChildShard{
				ShardId:      aws.String(c.id),
				ParentShards: parents,
				HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String(c.start.String()), EndingHashKey: aws.String(c.end.String())},
			})
		}
	}
	return out
}

// waitForRecords blocks until the iterator's shard has a record at or past
// its position, the shard is closed, or ctx or the engine is done. It is
// woken by the shard log's commit notification, never by a timer.
func (e *Engine) waitForRecords(ctx context.Context, text string) error {
	it, s, sh, err := e.resolveIterator(text)
	if err != nil {
		return err
	}
	for {
		ch := sh.log.Changed()
		if sh.log.Next() > it.pos {
			return nil
		}
		s.mu.RLock()
		closed := sh.closed
		s.mu.RUnlock()
		if closed {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-e.done:
			return errEngineClosed
		}
	}
}

// streamNameOf is the stream a request names, for messages written before
// the stream is found.
func streamNameOf(name, arn *string) string {
	if name != nil {
		return *name
	}
	if arn != nil {
		if i := strings.Index(*arn, ":stream/"); i >= 0 {
			return (*arn)[i+8:]
		}
		return *arn
	}
	return ""
}

// amzDate is how the service prints times in messages: time.UnixDate with
// a zero-padded day ("Thu Dec 03 13:50:35 UTC 2026").
const amzDate = "Mon Jan 02 15:04:05 MST 2006"

// orderingSeqOK reports whether the service takes seq as a PutRecord
// SequenceNumberForOrdering: a number of any of its layouts (ours, old or
// new, included) whose arrival time is not in the future.
func orderingSeqOK(seq string, now int64) bool {
	if p, err := parseSeq(seq); err == nil {
		return p.legacy || int64(p.secs) <= now
	}
	f := foreignSeq(seq)
	return f.ok && f.secs <= now
}
