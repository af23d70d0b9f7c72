package template

import "time"

// Plan is a template after Parameters, Globals, Conditions and intrinsics have
// been resolved and every property has been validated: what a Sluice instance
// must run. Slices keep the order of the Resources section.
type Plan struct {
	// TemplateDir is the absolute directory of the template file; relative
	// paths in the template (CodeUri) are resolved against it.
	TemplateDir     string           `json:"templateDir"`
	Streams         []Stream         `json:"streams"`
	Functions       []Function       `json:"functions"`
	DeliveryStreams []DeliveryStream `json:"deliveryStreams"`
	Buckets         []Bucket         `json:"buckets"`
	// Consumers are the AWS::Kinesis::StreamConsumer resources: enhanced
	// fan-out consumers registered on their stream at start.
	Consumers []StreamConsumer `json:"consumers,omitempty"`
	// Warnings are problems that do not stop Sluice, such as resource types it
	// ignores; `sluice validate` prints them.
	Warnings []Error `json:"warnings,omitempty"`
}

// Stream is an AWS::Kinesis::Stream.
type Stream struct {
	LogicalID string `json:"logicalId"`
	// Name is the Name property, or the logical ID when absent.
	Name string `json:"name"`
	// ShardCount is the provisioned shard count (default 1). For ON_DEMAND
	// streams it is the initial count, 4, as AWS starts on-demand streams with
	// 4 MiB/s of write capacity.
	ShardCount int `json:"shardCount"`
	// Mode is PROVISIONED (default) or ON_DEMAND.
	Mode string `json:"mode"`
	// RetentionHours is RetentionPeriodHours, 24 (default) to 8760.
	RetentionHours int `json:"retentionHours"`
	// Line is where the resource is declared.
	Line int `json:"line"`
}

// StreamConsumer is an AWS::Kinesis::StreamConsumer: an enhanced fan-out
// consumer of a stream. Its ARN ends in the registration time, which is
// known only once it is registered; the embedded stream keeps a consumer
// across restarts, so its ARN stays the same. In the plan, !GetAtt
// C.ConsumerARN resolves with the time part 0, and a mapping reading
// through the consumer finds it by stream and name (KinesisEvent.Consumer).
type StreamConsumer struct {
	LogicalID string `json:"logicalId"`
	// Name is ConsumerName.
	Name string `json:"name"`
	// Stream is the stream name from StreamARN.
	Stream string `json:"stream"`
	Line   int    `json:"line"`
}

// Function is an AWS::Serverless::Function after Globals.Function is merged.
type Function struct {
	LogicalID string `json:"logicalId"`
	// Name is FunctionName, or the logical ID when absent.
	Name string `json:"name"`
	// CodeDir is the absolute directory named by CodeUri, relative to the
	// template's directory.
	CodeDir string `json:"codeDir"`
	Handler string `json:"handler"`
	Runtime string `json:"runtime"`
	// Loader is Metadata.Sluice.Loader: the name of a registered loader
	// (runtime/loader), the default loader's when absent.
	Loader string `json:"loader"`
	// MemorySize is in MB, 128 (default) to 10240.
	MemorySize int `json:"memorySize"`
	// Timeout is 3s by default, at most 900s.
	Timeout time.Duration `json:"timeout"`
	// ReservedConcurrency is ReservedConcurrentExecutions; 0 when unset.
	ReservedConcurrency int `json:"reservedConcurrency"`
	// Environment is Environment.Variables with every value stringified.
	Environment map[string]string `json:"environment,omitempty"`
	// DeliveryStream is the logical ID of the delivery stream the function's
	// output records go to: the one an Environment variable references with
	// !Ref (the handler reads the name from that variable on AWS), or
	// Metadata.Sluice.DeliveryStream when several are referenced.
	DeliveryStream string `json:"deliveryStream,omitempty"`
	// Mounts are the directories a WASM guest may read, from
	// Metadata.Sluice.Mounts: guest path → absolute host directory
	// (relative to the template's directory in the template), read-only.
	// A guest sees no file system without them; network access cannot be
	// granted (WASI preview 1 has no sockets).
	Mounts map[string]string `json:"mounts,omitempty"`
	// SoftTimeout is Metadata.Sluice.SoftTimeout: a WASM guest runs exactly
	// as built, without the interrupt checks that stop it at its deadline;
	// a timed-out call is abandoned like a plugin's instead of stopped.
	SoftTimeout bool `json:"softTimeout,omitempty"`
	// Events are the function's Kinesis event-source mappings.
	Events []KinesisEvent `json:"events,omitempty"`
	Line   int            `json:"line"`
}

// KinesisEvent is one Events entry of Type Kinesis: an event-source mapping.
// Ranges and defaults follow the Lambda API (docs/semantics.md, "ESM
// parameters and defaults").
type KinesisEvent struct {
	// Name is the event's key under Events.
	Name string `json:"name"`
	// Stream is the stream name, taken from the ARN (or name) in Stream.
	Stream string `json:"stream"`
	// StreamLogicalID is the AWS::Kinesis::Stream in this template with that
	// name; empty for a stream declared elsewhere.
	StreamLogicalID string `json:"streamLogicalId,omitempty"`
	// Consumer is the enhanced fan-out consumer's name when Stream is a
	// consumer ARN (as with !GetAtt C.ConsumerARN): the mapping then reads
	// through SubscribeToShard, as Lambda does, instead of GetRecords.
	Consumer string `json:"consumer,omitempty"`
	// BatchSize is 1–10000, default 100.
	BatchSize int `json:"batchSize"`
	// MaximumBatchingWindow is 0–300 s, whole seconds.
	MaximumBatchingWindow time.Duration `json:"maximumBatchingWindow"`
	// StartingPosition is TRIM_HORIZON, LATEST or AT_TIMESTAMP.
	StartingPosition string `json:"startingPosition"`
	// StartingPositionTimestamp is set only with AT_TIMESTAMP.
	StartingPositionTimestamp *time.Time `json:"startingPositionTimestamp,omitempty"`
	// Enabled is true by default.
	Enabled                    bool `json:"enabled"`
	BisectBatchOnFunctionError bool `json:"bisectBatchOnFunctionError"`
	// MaximumRetryAttempts is -1 (infinite, default) to 10000.
	MaximumRetryAttempts int `json:"maximumRetryAttempts"`
	// MaximumRecordAge is negative (-1, the default) for infinite, else
	// 60 s to 604800 s.
	MaximumRecordAge time.Duration `json:"maximumRecordAge"`
	// ParallelizationFactor is 1–10, default 1.
	ParallelizationFactor int `json:"parallelizationFactor"`
	// FunctionResponseTypes is empty or [ReportBatchItemFailures].
	FunctionResponseTypes []string `json:"functionResponseTypes,omitempty"`
	// OnFailureBucket is the S3 bucket named by
	// DestinationConfig.OnFailure.Destination.
	OnFailureBucket string `json:"onFailureBucket,omitempty"`
	// TumblingWindow is 0 (none) to 900 s.
	TumblingWindow time.Duration `json:"tumblingWindow"`
	// FilterPatterns are FilterCriteria.Filters[].Pattern, JSON text each.
	FilterPatterns []string `json:"filterPatterns,omitempty"`
	Line           int      `json:"line"`
}

// DeliveryStream is an AWS::KinesisFirehose::DeliveryStream with an
// ExtendedS3DestinationConfiguration (docs/semantics.md, "Amazon Data
// Firehose").
type DeliveryStream struct {
	LogicalID string `json:"logicalId"`
	// Name is DeliveryStreamName, or the logical ID when absent.
	Name string `json:"name"`
	// Bucket is the bucket name from BucketARN.
	Bucket            string `json:"bucket"`
	Prefix            string `json:"prefix,omitempty"`
	ErrorOutputPrefix string `json:"errorOutputPrefix,omitempty"`
	// BufferSizeMB and BufferInterval are BufferingHints: 5 MB / 300 s by
	// default, 128 MB / 300 s with dynamic partitioning or format conversion.
	BufferSizeMB   int           `json:"bufferSizeMB"`
	BufferInterval time.Duration `json:"bufferInterval"`
	// Compression is CompressionFormat: UNCOMPRESSED (default), GZIP, ZIP,
	// Snappy or HADOOP_SNAPPY.
	Compression         string `json:"compression"`
	DynamicPartitioning bool   `json:"dynamicPartitioning"`
	// MetadataExtractionQuery is the JQ program of the MetadataExtraction
	// processor; it yields the partitionKeyFromQuery keys.
	MetadataExtractionQuery string `json:"metadataExtractionQuery,omitempty"`
	// AppendDelimiter is set by an AppendDelimiterToRecord processor.
	AppendDelimiter bool `json:"appendDelimiter"`
	// SubRecordType is set by a RecordDeAggregation processor: JSON or
	// DELIMITED (then Delimiter, base64 as in the parameter, splits).
	SubRecordType  string `json:"subRecordType,omitempty"`
	Delimiter      string `json:"delimiter,omitempty"`
	CustomTimeZone string `json:"customTimeZone,omitempty"`
	FileExtension  string `json:"fileExtension,omitempty"`
	// SourceStream is the stream name for KinesisStreamAsSource delivery
	// streams; empty for DirectPut.
	SourceStream string `json:"sourceStream,omitempty"`
	// TransformFunction is the Lambda processor's function: its logical ID
	// when it is a function of this template, else the LambdaArn.
	TransformFunction string `json:"transformFunction,omitempty"`
	// Conversion is the record format conversion to Parquet, with the Glue
	// table's schema; nil when DataFormatConversionConfiguration is absent
	// or disabled.
	Conversion *FormatConversion `json:"conversion,omitempty"`
	Line       int               `json:"line"`
}

// Bucket is an AWS::S3::Bucket.
type Bucket struct {
	LogicalID string `json:"logicalId"`
	// Name is BucketName, or the lower-cased logical ID when absent.
	Name string `json:"name"`
	Line int    `json:"line"`
}
