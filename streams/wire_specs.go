package streams

import "regexp"

// What the service checks in each operation's JSON input before running it
// (wire.go), member by member in the order its messages list them. The
// order and the constraints are those the kinesalite suite recorded against
// AWS, updated where AWS has changed since (RATIONALE.md, "Request
// checks"):
//   - StreamARN was added next to StreamName and may stand in for it; a
//     request with neither is answered as before, "Value null at
//     'streamName'";
//   - CreateStream's ShardCount may be left out with StreamModeDetails
//     (on-demand streams);
//   - the retention period is no longer limited to 168 hours in the model
//     (up to 8760 now; the operation says what it accepts); at least 1
//     still is.
//
// Operations not listed here are checked by the engine alone.

func notNull() wcheck       { return wcheck{kind: cNotNull} }
func minVal(n int64) wcheck { return wcheck{kind: cMin, n: n} }
func maxVal(n int64) wcheck { return wcheck{kind: cMax, n: n} }
func lenMin(n int64) wcheck { return wcheck{kind: cLenMin, n: n} }
func lenMax(n int64) wcheck { return wcheck{kind: cLenMax, n: n} }
func pattern(p string) wcheck {
	return wcheck{kind: cPattern, re: regexp.MustCompile("^(?:" + p + ")$"), text: p}
}
func oneOf(words ...string) wcheck { return wcheck{kind: cEnum, words: words} }

func wstr(name string, checks ...wcheck) wmember {
	return wmember{name: name, kind: wString, checks: checks}
}
func wint(name string, checks ...wcheck) wmember {
	return wmember{name: name, kind: wInteger, checks: checks}
}

const namePattern = "[a-zA-Z0-9_.-]+"

// streamNameMember is StreamName where StreamARN may stand in for it: a
// request with neither is answered as one without StreamName was before
// StreamARN existed.
func streamNameMember() wmember {
	return wstr("StreamName", notNullUnless("StreamARN"), pattern(namePattern), lenMin(1), lenMax(128))
}

func notNullUnless(alt string) wcheck { return wcheck{kind: cNotNull, unless: alt} }

func shardIDMember(name string) wmember {
	return wstr(name, notNull(), pattern(namePattern), lenMin(1), lenMax(128))
}

var (
	decimalSeq = "0|([1-9]\\d{0,128})"
	hashKey    = "0|([1-9]\\d{0,38})"
)

var wireSpecs = map[string][]wmember{
	"AddTagsToStream": {
		{name: "Tags", kind: wMap, elem: &wmember{kind: wString}, checks: []wcheck{
			notNull(), lenMin(1), lenMax(10),
			{kind: cKeyLen, n: 1, n2: 128}, {kind: cValueLen, n: 0, n2: 256},
		}},
		streamNameMember(),
	},
	"CreateStream": {
		wint("ShardCount", notNullUnless("StreamModeDetails"), minVal(1), maxVal(100000)),
		wstr("StreamName", notNull(), pattern(namePattern), lenMin(1), lenMax(128)),
		{name: "StreamModeDetails", kind: wStruct, fields: []wmember{
			wstr("StreamMode", notNull(), oneOf("PROVISIONED", "ON_DEMAND")),
		}},
		{name: "Tags", kind: wMap, elem: &wmember{kind: wString}},
	},
	"DecreaseStreamRetentionPeriod": {
		wint("RetentionPeriodHours", notNull(), minVal(1)),
		streamNameMember(),
	},
	"IncreaseStreamRetentionPeriod": {
		wint("RetentionPeriodHours", notNull(), minVal(1)),
		streamNameMember(),
	},
	"DeleteStream": {
		streamNameMember(),
		{name: "EnforceConsumerDeletion", kind: wBoolean},
	},
	"DescribeStream": {
		wint("Limit", minVal(1), maxVal(10000)),
		wstr("ExclusiveStartShardId", pattern(namePattern), lenMin(1), lenMax(128)),
		streamNameMember(),
	},
	"DescribeStreamSummary": {
		streamNameMember(),
	},
	"GetRecords": {
		wint("Limit", minVal(1), maxVal(10000)),
		wstr("ShardIterator", notNull(), lenMin(1), lenMax(512)),
	},
	"GetShardIterator": {
		shardIDMember("ShardId"),
		wstr("ShardIteratorType", notNull(), oneOf("AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON")),
		wstr("StartingSequenceNumber", pattern(decimalSeq)),
		streamNameMember(),
		{name: "Timestamp", kind: wTimestamp},
	},
	"ListShards": {
		wstr("ExclusiveStartShardId", pattern(namePattern), lenMin(1), lenMax(128)),
		wint("MaxResults", minVal(1), maxVal(10000)),
		wstr("NextToken", lenMin(1)),
		{name: "StreamCreationTimestamp", kind: wTimestamp},
		// Optional: NextToken may name the stream instead.
		wstr("StreamName", pattern(namePattern), lenMin(1), lenMax(128)),
	},
	"ListStreams": {
		wint("Limit", minVal(1), maxVal(10000)),
		wstr("ExclusiveStartStreamName", pattern(namePattern), lenMin(1), lenMax(128)),
	},
	"ListTagsForStream": {
		wint("Limit", minVal(1), maxVal(50)),
		wstr("ExclusiveStartTagKey", lenMin(1), lenMax(128)),
		streamNameMember(),
	},
	"MergeShards": {
		shardIDMember("ShardToMerge"),
		shardIDMember("AdjacentShardToMerge"),
		streamNameMember(),
	},
	"PutRecord": {
		wstr("SequenceNumberForOrdering", pattern(decimalSeq)),
		wstr("PartitionKey", notNull(), lenMin(1), lenMax(256)),
		wstr("ExplicitHashKey", pattern(hashKey)),
		{name: "Data", kind: wBlob, checks: []wcheck{notNull(), lenMax(1 << 20)}},
		streamNameMember(),
	},
	"PutRecords": {
		{
			name: "Records", kind: wList, memberStr: "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310",
			checks: []wcheck{notNull(), lenMin(1), lenMax(500)},
			elem: &wmember{kind: wStruct, fields: []wmember{
				wstr("PartitionKey", notNull(), lenMin(1), lenMax(256)),
				wstr("ExplicitHashKey", pattern(hashKey)),
				{name: "Data", kind: wBlob, checks: []wcheck{notNull(), lenMax(1 << 20)}},
			}},
		},
		streamNameMember(),
	},
	"RemoveTagsFromStream": {
		{name: "TagKeys", kind: wList, elem: &wmember{kind: wString}, checks: []wcheck{
			notNull(), lenMin(1), lenMax(10), {kind: cEachLen, n: 1, n2: 128},
		}},
		streamNameMember(),
	},
	"SplitShard": {
		wstr("NewStartingHashKey", notNull(), pattern(hashKey)),
		streamNameMember(),
		shardIDMember("ShardToSplit"),
	},
}

// hotOps are the data-plane operations whose inputs the engine checks
// itself on the way; the wire checks run for them only when a request
// failed, to answer the service's error instead of the engine's (they
// cost a generic parse of the body, which PutRecords cannot afford on
// every call).
var hotOps = map[string]bool{"PutRecord": true, "PutRecords": true, "GetRecords": true}
