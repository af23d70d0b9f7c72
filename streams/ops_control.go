package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The control plane: stream lifecycle, listing, retention, tags and
// resharding.

// onDemandShards is the shard count of a new on-demand stream
// (docs/semantics.md, "Capacity modes": the commonly observed 4; AWS does
// not document it).
const onDemandShards = 4

func (e *Engine) createStreamAPI(ctx context.Context, in *kinesis.CreateStreamInput) (*kinesis.CreateStreamOutput, error) {
	if in == nil {
		in = &kinesis.CreateStreamInput{}
	}
	var v validation
	v.streamName(in.StreamName, "streamName", true)
	v.intRange(in.ShardCount, "shardCount", 1, 100000)
	v.intRange(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", 1024, 10240)
	if err := v.err(); err != nil {
		return nil, err
	}
	mode := types.StreamModeProvisioned
	if in.StreamModeDetails != nil && in.StreamModeDetails.StreamMode != "" {
		mode = in.StreamModeDetails.StreamMode
	}
	var n int
	switch mode {
	case types.StreamModeProvisioned:
		if in.ShardCount == nil {
			return nil, errInvalid("ShardCount must be specified for a stream in PROVISIONED mode.")
		}
		n = int(*in.ShardCount)
	case types.StreamModeOnDemand:
		if in.ShardCount != nil {
			return nil, errInvalid("ShardCount must not be specified for a stream in ON_DEMAND mode.")
		}
		n = onDemandShards
	default:
		return nil, validationOf(string(mode), "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	}
	// The account's shard limit (what DescribeLimits reports) counts the
	// open shards of every stream.
	if cur := e.openShardCount(); cur+n > maxShardsPerStream {
		return nil, errLimit("This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.", e.opts.AccountID, e.opts.Region, cur, maxShardsPerStream, n)
	}
	if len(in.Tags) > 50 {
		return nil, errInvalid("Failed to create stream %s: at most 50 tags are allowed.", *in.StreamName)
	}
	maxKiB := int32(1024)
	if in.MaxRecordSizeInKiB != nil {
		maxKiB = *in.MaxRecordSizeInKiB
	}
	tags := map[string]string{}
	for k, v := range in.Tags {
		tags[k] = v
	}
	if _, err := e.createStream(*in.StreamName, n, mode, tags, maxKiB, false); err != nil {
		if _, ok := err.(interface{ ErrorCode() string }); ok {
			return nil, err
		}
		return nil, errInternal(err)
	}
	return &kinesis.CreateStreamOutput{}, nil
}

func (e *Engine) deleteStreamAPI(ctx context.Context, in *kinesis.DeleteStreamInput) (*kinesis.DeleteStreamOutput, error) {
	if in == nil {
		in = &kinesis.DeleteStreamInput{}
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	if err := e.deleteStream(s); err != nil {
		return nil, errInternal(err)
	}
	return &kinesis.DeleteStreamOutput{}, nil
}

// expiredLocked reports whether a closed shard's data is all past retention,
// so listings no longer show it (docs/semantics.md, "Stream and shard
// lifecycle"). Callers hold s.mu.
func (s *stream) expiredLocked(sh *shard, horizon int64) bool {
	return sh.closed && sh.closedMs < horizon
}

func shardToAPI(sh *shard) types.Shard {
	out := types.Shard{
		ShardId:      aws.String(sh.id),
		HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String(sh.start.String()), EndingHashKey: aws.String(sh.end.String())},
		SequenceNumberRange: &types.SequenceNumberRange{
			StartingSequenceNumber: aws.String(startSeq(sh.seq)),
		},
	}
	if sh.parent != "" {
		out.ParentShardId = aws.String(sh.parent)
	}
	if sh.adjParent != "" {
		out.AdjacentParentShardId = aws.String(sh.adjParent)
	}
	if sh.closed {
		out.SequenceNumberRange.EndingSequenceNumber = aws.String(endSeq(sh.seq))
	}
	return out
}

func (e *Engine) describeStream(ctx context.Context, in *kinesis.DescribeStreamInput) (*kinesis.DescribeStreamOutput, error) {
	if in == nil {
		in = &kinesis.DescribeStreamInput{}
	}
	var v validation
	v.streamName(in.StreamName, "streamName", false)
	v.intRange(in.Limit, "limit", 1, 10000)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = min(int(*in.Limit), 100)
	}
	after := -1
	if in.ExclusiveStartShardId != nil {
		if idx, ok := parseShardID(*in.ExclusiveStartShardId); ok {
			after = int(idx)
		}
	}
	horizon := s.trimHorizon(e.now())
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := &types.StreamDescription{
		StreamName:              aws.String(s.name),
		StreamARN:               aws.String(s.arn),
		StreamStatus:            s.status,
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		RetentionPeriodHours:    aws.Int32(s.retention),
		StreamCreationTimestamp: aws.Time(s.created),
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		EncryptionType:          types.EncryptionTypeNone,
		Shards:                  []types.Shard{},
		HasMoreShards:           aws.Bool(false),
	}
	for _, sh := range s.shards {
		if int(sh.index) <= after || s.expiredLocked(sh, horizon) {
			continue
		}
		if len(d.Shards) == limit {
			d.HasMoreShards = aws.Bool(true)
			break
		}
		d.Shards = append(d.Shards, shardToAPI(sh))
	}
	return &kinesis.DescribeStreamOutput{StreamDescription: d}, nil
}

func (e *Engine) describeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput) (*kinesis.DescribeStreamSummaryOutput, error) {
	if in == nil {
		in = &kinesis.DescribeStreamSummaryInput{}
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
		StreamName:              aws.String(s.name),
		StreamARN:               aws.String(s.arn),
		StreamStatus:            s.status,
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		RetentionPeriodHours:    aws.Int32(s.retention),
		StreamCreationTimestamp: aws.Time(s.created),
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		EncryptionType:          types.EncryptionTypeNone,
		OpenShardCount:          aws.Int32(int32(len(s.open))),
		ConsumerCount:           aws.Int32(s.consumerCountLocked()),
		MaxRecordSizeInKiB:      aws.Int32(s.maxKiB),
	}}, nil
}

func (e *Engine) listStreams(ctx context.Context, in *kinesis.ListStreamsInput) (*kinesis.ListStreamsOutput, error) {
	if in == nil {
		in = &kinesis.ListStreamsInput{}
	}
	var v validation
	v.intRange(in.Limit, "limit", 1, 10000)
	v.streamName(in.ExclusiveStartStreamName, "exclusiveStartStreamName", false)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	after := ""
	if in.ExclusiveStartStreamName != nil {
		after = *in.ExclusiveStartStreamName
	}
	if in.NextToken != nil {
		// Our NextToken is the last name returned, base64-encoded.
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil {
			return nil, errInvalid("Invalid NextToken.")
		}
		after = string(b)
	}
	e.mu.RLock()
	ss := make([]*stream, 0, len(e.streams))
	for _, s := range e.streams {
		if s.name > after {
			ss = append(ss, s)
		}
	}
	e.mu.RUnlock()
	sort.Slice(ss, func(i, j int) bool { return ss[i].name < ss[j].name })
	out := &kinesis.ListStreamsOutput{StreamNames: []string{}, StreamSummaries: []types.StreamSummary{}, HasMoreStreams: aws.Bool(len(ss) > limit)}
	for _, s := range ss[:min(limit, len(ss))] {
		s.mu.RLock()
		out.StreamNames = append(out.StreamNames, s.name)
		out.StreamSummaries = append(out.StreamSummaries, types.StreamSummary{
			StreamName:              aws.String(s.name),
			StreamARN:               aws.String(s.arn),
			StreamStatus:            s.status,
			StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
			StreamCreationTimestamp: aws.Time(s.created),
		})
		s.mu.RUnlock()
	}
	if len(ss) > limit {
		out.NextToken = aws.String(base64.RawURLEncoding.EncodeToString([]byte(out.StreamNames[len(out.StreamNames)-1])))
	}
	return out, nil
}

// listShardsToken is ListShards' NextToken: where to resume and the filter,
// since a continuation request may not repeat them.
type listShardsToken struct {
	Stream string `json:"s"`
	After  int    `json:"a"`
	Issued int64  `json:"t"`
	Filter string `json:"f,omitempty"`
	FShard string `json:"fs,omitempty"`
	FTime  int64  `json:"ft,omitempty"`
}

// nextTokenTTL is how long a ListShards NextToken stays valid
// (docs/semantics.md, "Listing shards").
const nextTokenTTL = 300 * time.Second

func (e *Engine) listShards(ctx context.Context, in *kinesis.ListShardsInput) (*kinesis.ListShardsOutput, error) {
	if in == nil {
		in = &kinesis.ListShardsInput{}
	}
	var v validation
	v.streamName(in.StreamName, "streamName", false)
	v.intRange(in.MaxResults, "maxResults", 1, 10000)
	if err := v.err(); err != nil {
		return nil, err
	}
	now := e.now()
	var tok listShardsToken
	tok.After = -1
	var s *stream
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil {
			return nil, errInvalid("NextToken and StreamName cannot be provided together.")
		}
		if in.ExclusiveStartShardId != nil || in.StreamCreationTimestamp != nil {
			return nil, errInvalid("NextToken and ExclusiveStartShardId or StreamCreationTimestamp cannot be provided together.")
		}
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Stream == "" {
			return nil, errInvalid("Invalid NextToken.")
		}
		if now.Sub(time.UnixMilli(tok.Issued)) > nextTokenTTL {
			return nil, &types.ExpiredNextTokenException{Message: aws.String("The NextToken has expired.")}
		}
		if s, err = e.lookup(&tok.Stream, nil); err != nil {
			return nil, err
		}
	} else {
		var err error
		if s, err = e.lookup(in.StreamName, in.StreamARN); err != nil {
			return nil, err
		}
		tok.Stream = s.name
		if in.ExclusiveStartShardId != nil {
			if idx, ok := parseShardID(*in.ExclusiveStartShardId); ok {
				tok.After = int(idx)
			}
		}
		if f := in.ShardFilter; f != nil {
			tok.Filter = string(f.Type)
			switch f.Type {
			case types.ShardFilterTypeAfterShardId:
				if f.ShardId == nil {
					return nil, errInvalid("Must specify ShardId for ShardFilter type AFTER_SHARD_ID.")
				}
				tok.FShard = *f.ShardId
			case types.ShardFilterTypeAtTimestamp, types.ShardFilterTypeFromTimestamp:
				if f.Timestamp == nil {
					return nil, errInvalid("Must specify Timestamp for ShardFilter type %s.", f.Type)
				}
				tok.FTime = f.Timestamp.UnixMilli()
			case types.ShardFilterTypeAtTrimHorizon, types.ShardFilterTypeFromTrimHorizon, types.ShardFilterTypeAtLatest:
			default:
				return nil, validationOf(string(f.Type), "shardFilter.type", "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]")
			}
		}
	}
	limit := 1000
	if in.MaxResults != nil {
		limit = min(int(*in.MaxResults), 1000)
	}
	horizon := s.trimHorizon(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.status == types.StreamStatusCreating {
		return nil, errInUse("Stream %s under account %s is still being created.", s.name, e.opts.AccountID)
	}
	after := tok.After
	if tok.Filter == string(types.ShardFilterTypeAfterShardId) {
		if idx, ok := parseShardID(tok.FShard); ok {
			after = max(after, int(idx))
		}
	}
	out := &kinesis.ListShardsOutput{Shards: []types.Shard{}}
	for _, sh := range s.shards {
		if int(sh.index) <= after || s.expiredLocked(sh, horizon) || !matchesFilter(sh, tok) {
			continue
		}
		if len(out.Shards) == limit {
			last, _ := parseShardID(*out.Shards[len(out.Shards)-1].ShardId)
			tok.After = int(last)
			tok.Issued = now.UnixMilli()
			b, _ := json.Marshal(tok)
			out.NextToken = aws.String(base64.RawURLEncoding.EncodeToString(b))
			break
		}
		out.Shards = append(out.Shards, shardToAPI(sh))
	}
	return out, nil
}

func matchesFilter(sh *shard, tok listShardsToken) bool {
	switch types.ShardFilterType(tok.Filter) {
	case types.ShardFilterTypeAtLatest:
		return !sh.closed
	case types.ShardFilterTypeAtTimestamp:
		return sh.createdMs <= tok.FTime && (!sh.closed || sh.closedMs > tok.FTime)
	case types.ShardFilterTypeFromTimestamp:
		return !sh.closed || sh.closedMs >= tok.FTime
	}
	return true
}

func (e *Engine) describeLimits(ctx context.Context, in *kinesis.DescribeLimitsInput) (*kinesis.DescribeLimitsOutput, error) {
	open, onDemand := 0, 0
	for _, info := range e.Streams() {
		open += info.OpenShards
		if info.Mode == string(types.StreamModeOnDemand) {
			onDemand++
		}
	}
	return &kinesis.DescribeLimitsOutput{
		ShardLimit:               aws.Int32(maxShardsPerStream),
		OpenShardCount:           aws.Int32(int32(open)),
		OnDemandStreamCount:      aws.Int32(int32(onDemand)),
		OnDemandStreamCountLimit: aws.Int32(50),
	}, nil
}

// updateMeta applies f to s under its write lock and persists the result;
// if persisting fails the in-memory change is undone by undo.
func (e *Engine) updateMeta(s *stream, f func() (undo func(), err error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	undo, err := f()
	if err != nil {
		return err
	}
	sm := s.metaLocked()
	if err := e.saveMeta(s.name, &sm, e.currentNextInc()); err != nil {
		if undo != nil {
			undo()
		}
		return errInternal(err)
	}
	return nil
}

func (e *Engine) currentNextInc() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.nextInc
}

func (e *Engine) changeRetention(name, arn *string, hours *int32, increase bool) error {
	var v validation
	v.streamName(name, "streamName", false)
	if hours == nil {
		v.add(nil, "retentionPeriodHours", "Member must not be null")
	}
	if err := v.err(); err != nil {
		return err
	}
	s, err := e.lookup(name, arn)
	if err != nil {
		return err
	}
	h := *hours
	return e.updateMeta(s, func() (func(), error) {
		old := s.retention
		switch {
		case h < 24:
			return nil, errInvalid("Minimum allowed retention period is 24 hours. Requested retention period (%d hours) is too short.", h)
		case increase && h > 8760:
			return nil, errInvalid("Maximum allowed retention period is 8760 hours. Requested retention period (%d hours) is too long.", h)
		case increase && h < old:
			return nil, errInvalid("Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, s.name, old)
		case !increase && h > old:
			return nil, errInvalid("Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, s.name, old)
		}
		s.retention = h
		return func() { s.retention = old }, nil
	})
}

func (e *Engine) addTags(ctx context.Context, in *kinesis.AddTagsToStreamInput) (*kinesis.AddTagsToStreamOutput, error) {
	if in == nil {
		in = &kinesis.AddTagsToStreamInput{}
	}
	if len(in.Tags) > 10 {
		return nil, validationOf(fmt.Sprintf("%d tags", len(in.Tags)), "tags", "Member must have length less than or equal to 10")
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	if err := checkTagChars(in.Tags, "add tags to", s.name, e.opts.AccountID); err != nil {
		return nil, err
	}
	err = e.updateMeta(s, func() (func(), error) {
		next := make(map[string]string, len(s.tags)+len(in.Tags))
		for k, v := range s.tags {
			next[k] = v
		}
		for k, v := range in.Tags {
			next[k] = v
		}
		if len(next) > 50 {
			// 50 is the limit; the service's message says 10 (recorded
			// by kinesalite's suite against AWS).
			return nil, errInvalid("Failed to add tags to stream %s under account %s because a given stream cannot have more than 10 tags associated with it.", s.name, e.opts.AccountID)
		}
		old := s.tags
		s.tags = next
		return func() { s.tags = old }, nil
	})
	if err != nil {
		return nil, err
	}
	return &kinesis.AddTagsToStreamOutput{}, nil
}

func (e *Engine) removeTags(ctx context.Context, in *kinesis.RemoveTagsFromStreamInput) (*kinesis.RemoveTagsFromStreamOutput, error) {
	if in == nil {
		in = &kinesis.RemoveTagsFromStreamInput{}
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]string, len(in.TagKeys))
	for _, k := range in.TagKeys {
		keys[k] = ""
	}
	if err := checkTagChars(keys, "remove tags from", s.name, e.opts.AccountID); err != nil {
		return nil, err
	}
	err = e.updateMeta(s, func() (func(), error) {
		next := make(map[string]string, len(s.tags))
		for k, v := range s.tags {
			if !slices.Contains(in.TagKeys, k) {
				next[k] = v
			}
		}
		old := s.tags
		s.tags = next
		return func() { s.tags = old }, nil
	})
	if err != nil {
		return nil, err
	}
	return &kinesis.RemoveTagsFromStreamOutput{}, nil
}

func (e *Engine) listTags(ctx context.Context, in *kinesis.ListTagsForStreamInput) (*kinesis.ListTagsForStreamOutput, error) {
	if in == nil {
		in = &kinesis.ListTagsForStreamInput{}
	}
	var v validation
	v.intRange(in.Limit, "limit", 1, 50)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, err
	}
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	s.mu.RLock()
	keys := make([]string, 0, len(s.tags))
	for k := range s.tags {
		if in.ExclusiveStartTagKey == nil || k > *in.ExclusiveStartTagKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := &kinesis.ListTagsForStreamOutput{Tags: []types.Tag{}, HasMoreTags: aws.Bool(len(keys) > limit)}
	for _, k := range keys[:min(limit, len(keys))] {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(s.tags[k])})
	}
	s.mu.RUnlock()
	return out, nil
}

// checkTagChars answers tags with characters the service refuses, in its
// two steps (recorded by kinesalite's suite): first anything outside
// letters (Latin-1 and up to U+D7FF, less U+2000..U+2BFF), digits, space
// and _ . / = + - @ %; then the '%' that the first step let through.
func checkTagChars(tags map[string]string, verb, stream, account string) error {
	ok := func(r rune) bool {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return true
		case r >= 0xC0 && r <= 0x1FFF, r >= 0x2C00 && r <= 0xD7FF:
			return true
		}
		return strings.ContainsRune("_./=+- @%", r)
	}
	percent := false
	for k, v := range tags {
		for _, s := range [2]string{k, v} {
			for _, r := range s {
				if !ok(r) {
					return errInvalid("Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.")
				}
				percent = percent || r == '%'
			}
		}
	}
	if percent {
		return errInvalid("Failed to %s stream %s under account %s because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.", verb, stream, account)
	}
	return nil
}

// openShardCount is the number of open shards of all streams.
func (e *Engine) openShardCount() int {
	e.mu.RLock()
	streams := make([]*stream, 0, len(e.streams))
	for _, s := range e.streams {
		streams = append(streams, s)
	}
	e.mu.RUnlock()
	n := 0
	for _, s := range streams {
		s.mu.RLock()
		n += len(s.open)
		s.mu.RUnlock()
	}
	return n
}
