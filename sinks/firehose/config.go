package firehose

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/sinks/firehose/convert"
)

// MiB is one mebibyte; buffer sizes are SizeInMBs * MiB.
const MiB = 1 << 20

// Compression formats (CompressionFormat; docs/semantics.md, "Firehose
// compression"). The mixed case of
// "Snappy" is AWS's.
const (
	CompressionNone         = "UNCOMPRESSED"
	CompressionGZIP         = "GZIP"
	CompressionZIP          = "ZIP"
	CompressionSnappy       = "Snappy"
	CompressionHadoopSnappy = "HADOOP_SNAPPY"
)

// Defaults that Firehose applies when a field is unset (docs/semantics.md,
// "Firehose configuration defaults").
const (
	DefaultBufferSize          = 5 * MiB
	DefaultDPBufferSize        = 128 * MiB
	DefaultBufferInterval      = 300 * time.Second
	DefaultMaxActivePartitions = 500
)

// Config is a delivery stream's configuration: the parts of
// ExtendedS3DestinationConfiguration that shape the objects.
type Config struct {
	// Name is the DeliveryStreamName: 1–64 characters of [a-zA-Z0-9_.-].
	// It starts every object name.
	Name string
	// Bucket is the destination bucket name (the part after arn:aws:s3:::).
	Bucket string
	// Prefix is the S3 prefix expression (docs/semantics.md, "Firehose S3
	// prefix expressions"), e.g.
	// "events/event_type=!{partitionKeyFromQuery:event_type}/!{timestamp:yyyy/MM/dd/HH}/".
	// Empty means yyyy/MM/dd/HH/; a prefix without expressions gets
	// yyyy/MM/dd/HH/ appended.
	Prefix string
	// ErrorOutputPrefix is where records that fail partitioning go; it must
	// contain !{firehose:error-output-type} if it has any expression.
	ErrorOutputPrefix string
	// BufferSize is SizeInMBs in bytes (1–128 MiB, at least 64 MiB with
	// dynamic partitioning); 0 means the AWS default (5 MiB, or 128 MiB with
	// dynamic partitioning). A partition flushes when its uncompressed bytes
	// reach it.
	BufferSize int64
	// BufferInterval is IntervalInSeconds (0–900 s, at least 60 s with
	// dynamic partitioning); a partition flushes this long after its first
	// buffered record. 0 is Firehose's "zero buffering": flush at once.
	// Unlike BufferSize it has no zero-value default, because 0 is valid;
	// callers translating a template apply the 300 s default.
	BufferInterval time.Duration
	// MetadataExtractionQuery is a JQ program (gojq, JQ 1.6 semantics as far
	// as gojq follows them) whose output is an object of partition keys, e.g.
	// "{event_type:.event_type}". Requires DynamicPartitioning.
	MetadataExtractionQuery string
	// DynamicPartitioning enables partitionKeyFromQuery/partitionKeyFromLambda.
	DynamicPartitioning bool
	// AppendDelimiter writes a newline after each record (the
	// AppendDelimiterToRecord processor).
	AppendDelimiter bool
	// Compression is the CompressionFormat; "" means UNCOMPRESSED. GZIP,
	// ZIP (one deflated entry), Snappy (snappy-java framing) and
	// HADOOP_SNAPPY (Hadoop block framing) compress the whole object.
	Compression string
	// CustomTimeZone is an IANA zone name for timestamps in prefixes and
	// object names; "" means UTC.
	CustomTimeZone string
	// FileExtension replaces the default extension (".gz" for GZIP, none
	// for UNCOMPRESSED) when non-empty; it must match \.[0-9a-z!\-_.*'()]+.
	FileExtension string
	// Conversion, when set, converts JSON records to Parquet with a Glue
	// table's schema (DataFormatConversionConfiguration). It
	// needs Compression UNCOMPRESSED and a BufferSize of at least 64 MiB
	// (default 128 MiB); objects get the .parquet extension.
	Conversion *Conversion
	// MaxActivePartitions caps the partitions buffered at once (default 500);
	// records for a new partition beyond it go to the error output as
	// activePartitionExceeded.
	MaxActivePartitions int
	// SubRecordType enables the RecordDeAggregation processor: "JSON"
	// splits a record holding consecutive JSON objects ({..}{..} or one per
	// line) into one record each, "DELIMITED" splits on Delimiter. A record
	// that does not split (a JSON array, more than 500 sub-records) is
	// delivered whole.
	SubRecordType string
	// Delimiter is the DELIMITED separator, base64-encoded as in the
	// processor's parameter ("####" is "IyMjIw==").
	Delimiter string
	// DeaggregateKPL splits KPL aggregated records (magic, protobuf, MD5)
	// into their user records before any other stage, as Firehose does for
	// a Kinesis stream source. Other records pass unchanged.
	DeaggregateKPL bool
}

var (
	nameRE     = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	bucketRE   = regexp.MustCompile(`^[\w.\-]{1,255}$`)
	tzRE       = regexp.MustCompile(`^$|^[a-zA-Z/_]+$`)
	fileExtRE  = regexp.MustCompile(`^$|^\.[0-9a-z!\-_.*'()]+$`)
	validation = "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s"
)

// withDefaults fills zero-valued fields with Firehose's defaults.
func (c Config) withDefaults() Config {
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
		if c.DynamicPartitioning || c.Conversion != nil {
			c.BufferSize = DefaultDPBufferSize
		}
	}
	if c.Compression == "" {
		c.Compression = CompressionNone
	}
	if c.MaxActivePartitions == 0 {
		c.MaxActivePartitions = DefaultMaxActivePartitions
	}
	return c
}

// Validate checks the configuration the way CreateDeliveryStream does:
// API-model constraints first (worded as AWS's ValidationException), then
// the prefix and dynamic-partitioning rules (docs/semantics.md, "Firehose
// S3 prefix expressions" and "Dynamic partitioning").
// Messages quoted from CloudFormation (via the CDK) are used verbatim; the
// other prefix messages are worded after AWS's but not verified.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compiled is the validated, ready-to-use form of a Config.
type compiled struct {
	cfg      Config
	prefix   *Prefix // with the default time appended where rule 8 says so
	errPfx   *Prefix
	query    *keyQuery
	loc      *time.Location
	ext      string
	encoding string
	conv     *convert.Converter // nil without format conversion
	delim    []byte             // decoded Delimiter
}

func (c Config) compile() (*compiled, error) {
	c = c.withDefaults()
	const path = "extendedS3DestinationConfiguration."
	switch {
	case c.Name == "" || len(c.Name) > 64:
		return nil, invalidf(validation, c.Name, "deliveryStreamName", "Member must have length between 1 and 64")
	case !nameRE.MatchString(c.Name):
		return nil, invalidf(validation, c.Name, "deliveryStreamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	case !bucketRE.MatchString(c.Bucket):
		return nil, invalidf(validation, "arn:aws:s3:::"+c.Bucket, path+"bucketARN", `Member must satisfy regular expression pattern: arn:.*:s3:::[\w\.\-]{1,255}`)
	case len(c.Prefix) > 1024:
		return nil, invalidf(validation, c.Prefix, path+"prefix", "Member must have length less than or equal to 1024")
	case len(c.ErrorOutputPrefix) > 1024:
		return nil, invalidf(validation, c.ErrorOutputPrefix, path+"errorOutputPrefix", "Member must have length less than or equal to 1024")
	case c.BufferSize < MiB:
		return nil, invalidf(validation, c.BufferSize/MiB, path+"bufferingHints.sizeInMBs", "Member must have value greater than or equal to 1")
	case c.BufferSize > 128*MiB:
		return nil, invalidf(validation, c.BufferSize/MiB, path+"bufferingHints.sizeInMBs", "Member must have value less than or equal to 128")
	case c.BufferInterval < 0:
		return nil, invalidf(validation, int64(c.BufferInterval/time.Second), path+"bufferingHints.intervalInSeconds", "Member must have value greater than or equal to 0")
	case c.BufferInterval > 900*time.Second:
		return nil, invalidf(validation, int64(c.BufferInterval/time.Second), path+"bufferingHints.intervalInSeconds", "Member must have value less than or equal to 900")
	case len(c.CustomTimeZone) > 50 || !tzRE.MatchString(c.CustomTimeZone):
		return nil, invalidf(validation, c.CustomTimeZone, path+"customTimeZone", "Member must satisfy regular expression pattern: ^$|[a-zA-Z/_]+")
	case len(c.FileExtension) > 128 || !fileExtRE.MatchString(c.FileExtension):
		return nil, invalidf(validation, c.FileExtension, path+"fileExtension", `Member must satisfy regular expression pattern: ^$|\.[0-9a-z!\-_.*'()]+`)
	case c.MaxActivePartitions < 0:
		return nil, invalidf("max active partitions must be positive, got %d", c.MaxActivePartitions)
	}
	cc := &compiled{cfg: c}
	switch c.SubRecordType {
	case "", SubRecordJSON:
	case SubRecordDelimited:
		d, err := base64.StdEncoding.DecodeString(c.Delimiter)
		if err != nil || len(d) == 0 {
			return nil, invalidf("RecordDeAggregation Delimiter %q must be the base64 encoding of a non-empty delimiter", c.Delimiter)
		}
		cc.delim = d
	default:
		return nil, invalidf("RecordDeAggregation SubRecordType %q: want %s or %s", c.SubRecordType, SubRecordJSON, SubRecordDelimited)
	}
	switch comp, ok := compressions[c.Compression]; {
	case ok:
		cc.ext, cc.encoding = comp.ext, comp.encoding
	default:
		return nil, invalidf(validation, c.Compression, path+"compressionFormat", "Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]")
	}
	if c.Conversion != nil {
		switch {
		case c.Compression != CompressionNone:
			return nil, invalid("CompressionFormat must be UNCOMPRESSED when DataFormatConversion is enabled")
		case c.BufferSize < 64*MiB:
			return nil, invalid("BufferingHints.SizeInMBs must be at least 64 when DataFormatConversion is enabled")
		}
		conv, err := convert.Compile(*c.Conversion)
		if err != nil {
			return nil, invalid(err.Error())
		}
		cc.conv, cc.ext = conv, ".parquet"
	}
	if c.FileExtension != "" {
		cc.ext = c.FileExtension
	}
	loc := time.UTC
	if c.CustomTimeZone != "" {
		l, err := time.LoadLocation(c.CustomTimeZone)
		if err != nil {
			return nil, invalidf("custom time zone %q is not a supported time zone: %v", c.CustomTimeZone, err)
		}
		loc = l
	}
	cc.loc = loc

	// Rule 1: syntax.
	pfx, err := ParsePrefix(c.Prefix)
	if err != nil {
		return nil, invalidf("Prefix is invalid: %v", err)
	}
	epfx, err := ParsePrefix(c.ErrorOutputPrefix)
	if err != nil {
		return nil, invalidf("ErrorOutputPrefix is invalid: %v", err)
	}
	dpKeys := pfx.has(segQueryKey) || pfx.has(segLambdaKey)
	switch {
	case pfx.has(segErrorType): // rule 2
		return nil, invalid("The !{firehose:error-output-type} expression is only allowed in ErrorOutputPrefix")
	case !epfx.isLiteral() && !epfx.has(segErrorType): // rule 3
		return nil, invalid("ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions")
	case c.ErrorOutputPrefix == "" && !pfx.isLiteral(): // rule 4
		return nil, invalid("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
	case epfx.has(segQueryKey) || epfx.has(segLambdaKey): // rule 5
		return nil, invalid("partitionKeyFromQuery and partitionKeyFromLambda namespaces are not allowed in ErrorOutputPrefix")
	case dpKeys && !c.DynamicPartitioning:
		return nil, invalid("Prefix uses Dynamic Partitioning namespaces but Dynamic Partitioning is not enabled")
	case c.MetadataExtractionQuery != "" && !c.DynamicPartitioning:
		return nil, invalid("MetadataExtraction processor requires Dynamic Partitioning to be enabled")
	}
	if c.DynamicPartitioning { // docs/semantics.md, "Firehose configuration defaults"
		switch {
		case c.BufferSize < 64*MiB:
			return nil, invalid("BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled")
		case c.BufferInterval < 60*time.Second:
			return nil, invalid("BufferingHints.IntervalInSeconds must be at least 60 seconds when Dynamic Partitioning is enabled")
		case !dpKeys:
			return nil, invalid("S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic Partitioning is enabled")
		case pfx.has(segQueryKey) && c.MetadataExtractionQuery == "":
			return nil, invalid("Processing Configuration is not enabled when DataPartitioning is enabled")
		case c.ErrorOutputPrefix == "":
			return nil, invalid("ErrorOutputPrefix cannot be null or empty when Dynamic Partitioning is enabled")
		}
	}
	if c.MetadataExtractionQuery != "" {
		code, err := compileQuery(c.MetadataExtractionQuery)
		if err != nil {
			return nil, err
		}
		cc.query = code
	}
	cc.prefix = pfx.withDefaultTime()
	if c.ErrorOutputPrefix == "" {
		// Rule 9 (unverified layout): <literal Prefix><type>/yyyy/MM/dd/HH/.
		epfx, _ = ParsePrefix(c.Prefix + "!{firehose:error-output-type}/!{timestamp:" + defaultTimePattern + "}")
	}
	cc.errPfx = epfx
	for _, p := range []struct {
		name    string
		p       *Prefix
		nameLen int
	}{{"Prefix", cc.prefix, cc.objectNameLen(&route{})}, {"ErrorOutputPrefix", cc.errPfx, cc.objectNameLen(&route{ErrType: ErrTypeDeliveryFailed})}} {
		if err := checkStorable(p.p, p.nameLen); err != nil {
			return nil, invalidf("%s %q cannot be stored: %v", p.name, p.p.String(), err)
		}
	}
	return cc, nil
}

// checkStorable renders p with sample values and checks that the result
// can start a key in every destination (the local bucket directory is the
// strictest): no leading "/", no empty, "." or ".." segment, no control
// character or backslash, valid UTF-8. Partition values are escaped at
// render time; this catches what the template wrote literally, which would
// otherwise fail every flush and retry forever. The same goes for a key
// longer than S3's 1,024 bytes (nameLen is the object name's length),
// rendered on a date with the longest English month and day names.
func checkStorable(p *Prefix, nameLen int) error {
	sample := func(keys []string) map[string]string {
		m := map[string]string{}
		for _, k := range keys {
			m[k] = "v"
		}
		return m
	}
	in := renderInput{
		Time: time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC), ErrorType: "processing-failed",
		Query: sample(p.keys(segQueryKey)), Lambda: sample(p.keys(segLambdaKey)),
		Random: func(int) string { return "xxxxxxxxxxx" },
	}
	key := p.renderUnchecked(in) + "object"
	long := in
	long.Time = time.Date(2026, 9, 30, 15, 4, 5, 0, time.UTC) // a Wednesday in September
	long.ErrorType = ErrTypeFormatConversion                  // one of the longest error output types
	if err := checkObjectKey(p.renderUnchecked(long), nameLen); err != nil {
		return err
	}
	switch {
	case !utf8.ValidString(key):
		return errors.New("it is not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return errors.New(`it starts with "/"`)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("it contains %q", r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return errors.New(`it has an empty segment ("//")`)
		case seg == "." || seg == "..":
			return fmt.Errorf("it has a %q segment", seg)
		case len(seg) > 255:
			return errors.New("it has a segment longer than 255 bytes")
		}
	}
	return nil
}

// ValidationError is a configuration rejected the way CreateDeliveryStream
// rejects it; the message is AWS's (a control API answers it as
// InvalidArgumentException or ValidationException).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(msg string) error { return &ValidationError{Msg: msg} }

func invalidf(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}
