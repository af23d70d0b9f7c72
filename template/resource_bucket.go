package template

import (
	"net"
	"regexp"
	"strings"
)

// bucketKeys are the AWS::S3::Bucket properties; Sluice reads only
// BucketName, the rest configure S3 itself.
var bucketKeys = []string{"AbacStatus", "AccelerateConfiguration", "AnalyticsConfigurations", "BucketEncryption",
	"BucketName", "BucketNamePrefix", "BucketNamespace", "CorsConfiguration", "IntelligentTieringConfigurations",
	"InventoryConfigurations", "LifecycleConfiguration", "LoggingConfiguration", "MetadataConfiguration",
	"MetadataTableConfiguration", "MetricsConfigurations", "NotificationConfiguration",
	"ObjectLockConfiguration", "ObjectLockEnabled", "OwnershipControls", "PublicAccessBlockConfiguration",
	"ReplicationConfiguration", "Tags", "VersioningConfiguration", "WebsiteConfiguration"}

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validBucketName applies the S3 general-purpose bucket naming rules.
func validBucketName(s string) bool {
	return bucketNameRE.MatchString(s) && !strings.Contains(s, "..") && net.ParseIP(s) == nil
}

func (p *parser) bucket(r *resource) {
	o := p.object(r.props, r.propsAt, r.path(), bucketKeys)
	b := Bucket{LogicalID: r.id, Line: r.keyPos.line}
	b.Name, _ = p.physicalName(r)
	if _, at, ok := o.str("BucketName", false); ok {
		if !validBucketName(b.Name) {
			o.errorf(at, "BucketName", "%s is not a valid S3 bucket name (3 to 63 lower-case letters, digits, . and -)", quote(b.Name))
		}
	} else if b.Name != "" && !validBucketName(b.Name) {
		p.errorf(r.keyPos, "%s: the lower-cased logical ID %s is not a valid bucket name; set BucketName", r.path(), quote(b.Name))
	}
	p.plan.Buckets = append(p.plan.Buckets, b)
}
