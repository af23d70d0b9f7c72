package template

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"time"
)

var deliveryKeys = append([]string{"DeliveryStreamName", "DeliveryStreamType", "ExtendedS3DestinationConfiguration",
	"KinesisStreamSourceConfiguration", "DeliveryStreamEncryptionConfigurationInput", "Tags"},
	unsupportedDeliveryKeys...)

// unsupportedDeliveryKeys are destinations and sources Sluice does not
// implement; listed so that they get a clear error rather than "unknown
// property".
var unsupportedDeliveryKeys = []string{"S3DestinationConfiguration", "ElasticsearchDestinationConfiguration",
	"AmazonopensearchserviceDestinationConfiguration", "AmazonOpenSearchServerlessDestinationConfiguration",
	"HttpEndpointDestinationConfiguration", "RedshiftDestinationConfiguration", "SplunkDestinationConfiguration",
	"SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration", "MSKSourceConfiguration",
	"DatabaseSourceConfiguration", "DirectPutSourceConfiguration"}

var extendedS3Keys = []string{"BucketARN", "RoleARN", "BufferingHints", "CompressionFormat", "Prefix",
	"ErrorOutputPrefix", "DynamicPartitioningConfiguration", "ProcessingConfiguration",
	"DataFormatConversionConfiguration", "S3BackupMode", "S3BackupConfiguration", "EncryptionConfiguration",
	"CloudWatchLoggingOptions", "CustomTimeZone", "FileExtension"}

var processorTypes = []string{"RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda",
	"MetadataExtraction", "AppendDelimiterToRecord"}

var processorParams = []string{"LambdaArn", "NumberOfRetries", "MetadataExtractionQuery", "JsonParsingEngine",
	"RoleArn", "BufferSizeInMBs", "BufferIntervalInSeconds", "SubRecordType", "Delimiter", "CompressionFormat",
	"DataMessageExtraction"}

var (
	deliveryNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,64}$`)
	roleARN        = regexp.MustCompile(`^arn:[a-z-]+:iam::\d{12}:role/.+$`)
	lambdaARN      = regexp.MustCompile(`^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:([a-zA-Z0-9_-]+)(:[a-zA-Z0-9$_-]+)?$`)
	timeZoneRE     = regexp.MustCompile(`^[a-zA-Z/_]{0,50}$`)
	fileExtRE      = regexp.MustCompile(`^(|\.[0-9a-z!\-_.*'()]{1,127})$`)
)

func (p *parser) deliveryStream(r *resource) {
	o := p.object(r.props, r.propsAt, r.path(), deliveryKeys)
	d := DeliveryStream{LogicalID: r.id, Line: r.keyPos.line}
	d.Name, _ = p.physicalName(r)
	if _, at, ok := o.str("DeliveryStreamName", false); ok && !deliveryNameRE.MatchString(d.Name) {
		o.errorf(at, "DeliveryStreamName", "must be 1 to 64 letters, digits, . _ or -, got %s", quote(d.Name))
	} else if !ok && d.Name != "" && !deliveryNameRE.MatchString(d.Name) {
		p.errorf(r.keyPos, "%s: the logical ID is too long to be a delivery stream name; set DeliveryStreamName", r.path())
	}
	for _, k := range unsupportedDeliveryKeys {
		if e := o.get(k); e != nil {
			p.errorf(e.keyPos, "%s.%s: not supported by Sluice, which delivers to S3 through ExtendedS3DestinationConfiguration", o.path, k)
		}
	}

	typ := o.enum("DeliveryStreamType", false, "DirectPut", "DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource")
	src := o.child("KinesisStreamSourceConfiguration", []string{"KinesisStreamARN", "RoleARN"})
	switch {
	case typ == "KinesisStreamAsSource":
		if s, at, ok := src.str("KinesisStreamARN", true); ok {
			if m := streamARN.FindStringSubmatch(s); m != nil && m[2] == "" {
				d.SourceStream = m[1]
			} else {
				src.errorf(at, "KinesisStreamARN", "must be a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME), got %s", quote(s))
			}
		}
		p.role(src, "RoleARN")
	case typ != "DirectPut":
		o.errorf(o.get("DeliveryStreamType").val.pos, "DeliveryStreamType", "%s is not supported by Sluice", typ)
	case src.present():
		p.errorf(o.get("KinesisStreamSourceConfiguration").keyPos, "%s.KinesisStreamSourceConfiguration: requires DeliveryStreamType KinesisStreamAsSource", o.path)
	}

	if !o.has("ExtendedS3DestinationConfiguration") {
		if o.present() || r.props == nil {
			o.missing("ExtendedS3DestinationConfiguration")
		}
		return
	}
	p.extendedS3(o.child("ExtendedS3DestinationConfiguration", extendedS3Keys), &d)
	p.plan.DeliveryStreams = append(p.plan.DeliveryStreams, d)
}

func (p *parser) role(o *object, key string) {
	if s, at, ok := o.strLen(key, true, 1, 512); ok && !roleARN.MatchString(s) {
		o.errorf(at, key, "must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got %s", quote(s))
	}
}

func (p *parser) extendedS3(x *object, d *DeliveryStream) {
	if s, at, ok := x.strLen("BucketARN", true, 1, 2048); ok {
		if m := s3ARN.FindStringSubmatch(s); m != nil {
			d.Bucket = m[1]
		} else {
			x.errorf(at, "BucketARN", "must be an S3 bucket ARN (arn:aws:s3:::NAME; use !GetAtt Bucket.Arn), got %s", quote(s))
		}
	}
	p.role(x, "RoleARN")

	dp := x.child("DynamicPartitioningConfiguration", []string{"Enabled", "RetryOptions"})
	d.DynamicPartitioning = dp.boolean("Enabled", false)
	dp.child("RetryOptions", []string{"DurationInSeconds"}).integer("DurationInSeconds", 300, 0, 7200)

	conv := x.child("DataFormatConversionConfiguration", []string{"Enabled", "SchemaConfiguration",
		"InputFormatConfiguration", "OutputFormatConfiguration"})
	converting := conv.present() && conv.boolean("Enabled", true)
	if converting {
		d.Conversion = p.formatConversion(conv)
	}

	d.Compression = x.enum("CompressionFormat", false, "UNCOMPRESSED", "UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
	if converting && d.Compression != "UNCOMPRESSED" {
		x.errorf(x.get("CompressionFormat").val.pos, "CompressionFormat", "must be UNCOMPRESSED with DataFormatConversionConfiguration (the columnar file compresses itself)")
	}

	// Buffering: 5 MB / 300 s, raised to 128 MB when dynamic partitioning or
	// format conversion needs at least 64 MB (docs/semantics.md, "Firehose
	// configuration defaults").
	bh := x.child("BufferingHints", []string{"SizeInMBs", "IntervalInSeconds"})
	big := d.DynamicPartitioning || converting
	defSize := 5
	if big {
		defSize = 128
	}
	size, sat, sok := bh.integerAt("SizeInMBs", defSize, 1, 128)
	interval, iat, iok := bh.integerAt("IntervalInSeconds", 300, 0, 900)
	if big && sok && size < 64 {
		bh.errorf(sat, "SizeInMBs", "must be at least 64 when dynamic partitioning or format conversion is enabled, got %d", size)
	}
	if d.DynamicPartitioning && iok && interval < 60 {
		bh.errorf(iat, "IntervalInSeconds", "must be at least 60 when dynamic partitioning is enabled, got %d", interval)
	}
	d.BufferSizeMB, d.BufferInterval = size, time.Duration(interval)*time.Second

	procs := p.processors(x.child("ProcessingConfiguration", []string{"Enabled", "Processors"}), d)

	p.prefixes(x, d, procs)

	if tz, at, ok := x.str("CustomTimeZone", false); ok {
		if !timeZoneRE.MatchString(tz) {
			x.errorf(at, "CustomTimeZone", "must be an IANA time zone name such as Asia/Tokyo, got %s", quote(tz))
		} else {
			d.CustomTimeZone = tz
		}
	}
	if ext, at, ok := x.str("FileExtension", false); ok {
		if !fileExtRE.MatchString(ext) {
			x.errorf(at, "FileExtension", "must start with . and use only 0-9 a-z ! - _ . * ' ( ), got %s", quote(ext))
		} else {
			d.FileExtension = ext
		}
	}
	if x.enum("S3BackupMode", false, "Disabled", "Disabled", "Enabled") == "Enabled" {
		p.warnf(x.get("S3BackupMode").val.pos, "%s.S3BackupMode: source-record backup is not implemented by Sluice; ignored", x.path)
	}
}

// processors reads ProcessingConfiguration into d and returns the types of
// the processors that run.
func (p *parser) processors(pc *object, d *DeliveryStream) []string {
	if !pc.present() {
		return nil
	}
	// Enabled has no documented default; like the API's zero value, absent
	// means off, which we say out loud since processors would be ignored.
	enabled := pc.boolean("Enabled", false)
	items := pc.list("Processors")
	if !pc.has("Enabled") && len(items) > 0 {
		p.warnf(pc.at, "%s: Enabled is not set, so these processors do not run; add Enabled: true", pc.path)
	}
	var types []string
	for i, it := range items {
		path := pc.path + ".Processors[" + strconv.Itoa(i) + "]"
		po := p.object(it, it.pos, path, []string{"Type", "Parameters"})
		typ := po.enum("Type", true, "", processorTypes...)
		params := map[string]*value{}
		for j, pv := range po.list("Parameters") {
			pp := p.object(pv, pv.pos, path+".Parameters["+strconv.Itoa(j)+"]", []string{"ParameterName", "ParameterValue"})
			name := pp.enum("ParameterName", true, "", processorParams...)
			v, ok := pp.scalarVal("ParameterValue", true)
			if !ok || name == "" {
				continue
			}
			if len(v.str) < 1 || len(v.str) > 5120 {
				pp.errorf(v.pos, "ParameterValue", "length must be between 1 and 5120, got %d", len(v.str))
				continue
			}
			params[name] = v
		}
		if typ == "" {
			continue
		}
		types = append(types, typ)
		if !enabled {
			continue
		}
		switch typ {
		case "MetadataExtraction":
			q, qok := params["MetadataExtractionQuery"]
			e, eok := params["JsonParsingEngine"]
			if !qok {
				p.errorf(po.at, "%s: MetadataExtraction needs the parameter MetadataExtractionQuery", path)
			} else {
				d.MetadataExtractionQuery = q.str
			}
			switch {
			case !eok:
				p.errorf(po.at, "%s: MetadataExtraction needs the parameter JsonParsingEngine (JQ-1.6)", path)
			case e.str != "JQ-1.6":
				p.errorf(e.pos, "%s: JsonParsingEngine must be JQ-1.6, got %s", path, quote(e.str))
			}
		case "AppendDelimiterToRecord":
			d.AppendDelimiter = true
		case "RecordDeAggregation":
			// https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-multirecord-deaggergation.html:
			// JSON (consecutive objects) or DELIMITED with a base64 delimiter;
			// applied before transformation and partition keys.
			st, ok := params["SubRecordType"]
			if !ok {
				p.errorf(po.at, "%s: RecordDeAggregation needs the parameter SubRecordType (JSON or DELIMITED)", path)
				continue
			}
			switch st.str {
			case "JSON":
			case "DELIMITED":
				dl, ok := params["Delimiter"]
				if !ok {
					p.errorf(po.at, "%s: SubRecordType DELIMITED needs the parameter Delimiter (base64-encoded)", path)
					continue
				}
				if b, err := base64.StdEncoding.DecodeString(dl.str); err != nil || len(b) == 0 {
					p.errorf(dl.pos, "%s: Delimiter must be the delimiter base64-encoded (\"####\" is \"IyMjIw==\"), got %s", path, quote(dl.str))
					continue
				}
				d.Delimiter = dl.str
			default:
				p.errorf(st.pos, "%s: SubRecordType must be JSON or DELIMITED, got %s", path, quote(st.str))
				continue
			}
			d.SubRecordType = st.str
		case "Lambda":
			v, ok := params["LambdaArn"]
			if !ok {
				p.errorf(po.at, "%s: Lambda needs the parameter LambdaArn", path)
				continue
			}
			d.TransformFunction = p.lambdaTarget(v)
		default:
			p.warnf(po.at, "%s: %s processors are not implemented by Sluice; ignored", path, typ)
		}
	}
	if !enabled {
		return nil
	}
	return types
}

// lambdaTarget names the function behind a Lambda ARN: the logical ID when
// it is a function of this template, else the ARN itself.
func (p *parser) lambdaTarget(v *value) string {
	if v.origin != "" && v.attr == "Arn" && p.res[v.origin].typ == typeFunction {
		return v.origin
	}
	if m := lambdaARN.FindStringSubmatch(v.str); m != nil {
		for _, id := range p.resOrder {
			if r := p.res[id]; r.typ == typeFunction && r.enabled {
				if n, _ := p.physicalName(r); n == m[1] {
					return id
				}
			}
		}
	}
	return v.str
}

// prefixes validates Prefix and ErrorOutputPrefix with Firehose's
// create-time rules (docs/semantics.md, "Firehose S3 prefix expressions"
// and "Dynamic partitioning").
func (p *parser) prefixes(x *object, d *DeliveryStream, procs []string) {
	prefix, pat, pok := x.strLen("Prefix", false, 0, 1024)
	errPrefix, eat, eok := x.strLen("ErrorOutputPrefix", false, 0, 1024)
	var pex, eex []prefixExpr
	var err error
	if pok {
		if pex, err = parsePrefix(prefix); err != nil {
			x.errorf(pat, "Prefix", "%v", err)
			pok = false
		}
	}
	if eok {
		if eex, err = parsePrefix(errPrefix); err != nil {
			x.errorf(eat, "ErrorOutputPrefix", "%v", err)
			eok = false
		}
	}
	d.Prefix, d.ErrorOutputPrefix = prefix, errPrefix
	if pok {
		if hasNS(pex, "firehose", "error-output-type") {
			x.errorf(pat, "Prefix", "must not contain !{firehose:error-output-type}; it belongs in ErrorOutputPrefix")
		}
		usesKeys := hasNS(pex, "partitionKeyFromQuery", "") || hasNS(pex, "partitionKeyFromLambda", "")
		switch {
		case usesKeys && !d.DynamicPartitioning:
			x.errorf(pat, "Prefix", "partitionKeyFromQuery and partitionKeyFromLambda need DynamicPartitioningConfiguration Enabled: true")
		case d.DynamicPartitioning && !usesKeys:
			x.errorf(pat, "Prefix", "must contain a dynamic partitioning namespace (!{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...}) when dynamic partitioning is enabled")
		}
		if hasNS(pex, "partitionKeyFromQuery", "") && d.DynamicPartitioning && !contains(procs, "MetadataExtraction") {
			x.errorf(pat, "Prefix", "!{partitionKeyFromQuery:...} needs an enabled MetadataExtraction processor")
		}
		if hasNS(pex, "partitionKeyFromLambda", "") && d.DynamicPartitioning && !contains(procs, "Lambda") {
			x.errorf(pat, "Prefix", "!{partitionKeyFromLambda:...} needs an enabled Lambda processor")
		}
		if len(pex) > 0 && !x.has("ErrorOutputPrefix") {
			x.errorf(pat, "Prefix", "uses expressions, so ErrorOutputPrefix is required")
		}
	} else if d.DynamicPartitioning && !x.has("Prefix") {
		p.errorf(x.at, "%s: Prefix is required when dynamic partitioning is enabled", x.path)
	}
	if d.DynamicPartitioning && len(procs) == 0 {
		p.errorf(x.at, "%s: dynamic partitioning needs an enabled ProcessingConfiguration", x.path)
	}
	if eok {
		if len(eex) > 0 && !hasNS(eex, "firehose", "error-output-type") {
			x.errorf(eat, "ErrorOutputPrefix", "uses expressions, so it must contain !{firehose:error-output-type}")
		}
		if hasNS(eex, "partitionKeyFromQuery", "") || hasNS(eex, "partitionKeyFromLambda", "") {
			x.errorf(eat, "ErrorOutputPrefix", "must not use partition keys")
		}
	}
}
