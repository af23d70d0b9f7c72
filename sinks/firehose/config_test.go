package firehose

import (
	"errors"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{Name: "clicks", Bucket: "lake", BufferSize: 5 * MiB, BufferInterval: 300 * time.Second}
}

func dpConfig() Config {
	return Config{
		Name: "clicks", Bucket: "lake",
		Prefix:                  "events/event_type=!{partitionKeyFromQuery:event_type}/!{timestamp:yyyy/MM/dd/HH}/",
		ErrorOutputPrefix:       "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
		BufferSize:              64 * MiB,
		BufferInterval:          60 * time.Second,
		MetadataExtractionQuery: "{event_type:.event_type}",
		DynamicPartitioning:     true,
		AppendDelimiter:         true,
		Compression:             CompressionGZIP,
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		dp   bool
		want string // "" = valid
	}{
		{name: "defaults", mod: func(c *Config) {}},
		{name: "dp valid", dp: true, mod: func(c *Config) {}},
		{name: "empty name", mod: func(c *Config) { c.Name = "" },
			want: "1 validation error detected: Value '' at 'deliveryStreamName' failed to satisfy constraint: Member must have length between 1 and 64"},
		{name: "bad name", mod: func(c *Config) { c.Name = "a b" },
			want: "1 validation error detected: Value 'a b' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{name: "bad bucket", mod: func(c *Config) { c.Bucket = "a/b" },
			want: `1 validation error detected: Value 'arn:aws:s3:::a/b' at 'extendedS3DestinationConfiguration.bucketARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:s3:::[\w\.\-]{1,255}`},
		{name: "size too big", mod: func(c *Config) { c.BufferSize = 129 * MiB },
			want: "1 validation error detected: Value '129' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128"},
		{name: "size too small", mod: func(c *Config) { c.BufferSize = 1000 },
			want: "1 validation error detected: Value '0' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{name: "interval too long", mod: func(c *Config) { c.BufferInterval = 901 * time.Second },
			want: "1 validation error detected: Value '901' at 'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{name: "zero buffering", mod: func(c *Config) { c.BufferInterval = 0 }},
		{name: "bad compression", mod: func(c *Config) { c.Compression = "gzip" },
			want: "1 validation error detected: Value 'gzip' at 'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]"},
		{name: "snappy", mod: func(c *Config) { c.Compression = CompressionSnappy }},
		{name: "zip", mod: func(c *Config) { c.Compression = CompressionZIP }},
		{name: "hadoop snappy", mod: func(c *Config) { c.Compression = CompressionHadoopSnappy }},
		{name: "literal dotdot", mod: func(c *Config) { c.Prefix = "a/../b/" },
			want: `Prefix "a/../b/!{timestamp:yyyy/MM/dd/HH/}" cannot be stored: it has a ".." segment`},
		{name: "leading slash", mod: func(c *Config) { c.Prefix = "/abs/" },
			want: `Prefix "/abs/!{timestamp:yyyy/MM/dd/HH/}" cannot be stored: it starts with "/"`},
		{name: "double slash", mod: func(c *Config) { c.Prefix = "a//b/" },
			want: `Prefix "a//b/!{timestamp:yyyy/MM/dd/HH/}" cannot be stored: it has an empty segment ("//")`},
		{name: "control char in error prefix", mod: func(c *Config) { c.ErrorOutputPrefix = "err\x01/" },
			want: `ErrorOutputPrefix "err\x01/" cannot be stored: it contains '\x01'`},
		{name: "backslash", mod: func(c *Config) { c.Prefix = `a\\b/` },
			want: `Prefix "a\\\\b/!{timestamp:yyyy/MM/dd/HH/}" cannot be stored: it contains '\\'`},
		{name: "bad extension", mod: func(c *Config) { c.FileExtension = "json" },
			want: `1 validation error detected: Value 'json' at 'extendedS3DestinationConfiguration.fileExtension' failed to satisfy constraint: Member must satisfy regular expression pattern: ^$|\.[0-9a-z!\-_.*'()]+`},
		{name: "bad zone pattern", mod: func(c *Config) { c.CustomTimeZone = "UTC+1" },
			want: "1 validation error detected: Value 'UTC+1' at 'extendedS3DestinationConfiguration.customTimeZone' failed to satisfy constraint: Member must satisfy regular expression pattern: ^$|[a-zA-Z/_]+"},
		{name: "rule 1 syntax", mod: func(c *Config) { c.Prefix = "a/!{timestamp:yyyy" },
			want: `Prefix is invalid: unterminated expression "!{timestamp:yyyy": missing }`},
		{name: "rule 2", mod: func(c *Config) {
			c.Prefix = "!{firehose:error-output-type}/"
			c.ErrorOutputPrefix = "e/!{firehose:error-output-type}/"
		}, want: "The !{firehose:error-output-type} expression is only allowed in ErrorOutputPrefix"},
		{name: "rule 3", mod: func(c *Config) {
			c.Prefix = "!{timestamp:yyyy}/"
			c.ErrorOutputPrefix = "e/!{timestamp:yyyy}/"
		}, want: "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions"},
		{name: "rule 4", mod: func(c *Config) { c.Prefix = "!{timestamp:yyyy/MM/dd}" },
			want: "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"},
		{name: "rule 4 literal ok", mod: func(c *Config) { c.Prefix = "myPrefix/" }},
		{name: "rule 5", dp: true, mod: func(c *Config) {
			c.ErrorOutputPrefix = "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:event_type}/"
		}, want: "partitionKeyFromQuery and partitionKeyFromLambda namespaces are not allowed in ErrorOutputPrefix"},
		{name: "dp keys without dp", dp: true, mod: func(c *Config) { c.DynamicPartitioning = false; c.MetadataExtractionQuery = "" },
			want: "Prefix uses Dynamic Partitioning namespaces but Dynamic Partitioning is not enabled"},
		{name: "rule 7 size", dp: true, mod: func(c *Config) { c.BufferSize = 5 * MiB },
			want: "BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled"},
		{name: "rule 7 default size", dp: true, mod: func(c *Config) { c.BufferSize = 0 }},
		{name: "rule 7 interval", dp: true, mod: func(c *Config) { c.BufferInterval = 30 * time.Second },
			want: "BufferingHints.IntervalInSeconds must be at least 60 seconds when Dynamic Partitioning is enabled"},
		{name: "rule 7 namespaces", dp: true, mod: func(c *Config) { c.Prefix = "events/!{timestamp:yyyy}/" },
			want: "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic Partitioning is enabled"},
		{name: "rule 7 processor", dp: true, mod: func(c *Config) { c.MetadataExtractionQuery = "" },
			want: "Processing Configuration is not enabled when DataPartitioning is enabled"},
		{name: "rule 7 lambda keys need no query", dp: true, mod: func(c *Config) {
			c.MetadataExtractionQuery = ""
			c.Prefix = "c=!{partitionKeyFromLambda:customer}/"
		}},
		{name: "rule 7 error prefix", dp: true, mod: func(c *Config) { c.ErrorOutputPrefix = "" },
			want: "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"},
		{name: "jq compile error", dp: true, mod: func(c *Config) { c.MetadataExtractionQuery = "{event_type:.event_type" },
			want: "MetadataExtractionQuery is not a valid JQ expression: unexpected EOF"},
		{name: "query without dp", mod: func(c *Config) { c.MetadataExtractionQuery = "{a:.a}" },
			want: "MetadataExtraction processor requires Dynamic Partitioning to be enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			if tc.dp {
				c = dpConfig()
			}
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			var ve *ValidationError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
		})
	}
}
