package template

var streamKeys = []string{"Name", "ShardCount", "StreamModeDetails", "RetentionPeriodHours", "StreamEncryption",
	"Tags", "DesiredShardLevelMetrics", "MaxRecordSizeInKiB", "WarmThroughputMiBps"}

// onDemandShards is the initial shard count of an ON_DEMAND stream: AWS
// starts on-demand streams at 4 MiB/s of write capacity, four shards' worth.
const onDemandShards = 4

func (p *parser) stream(r *resource) {
	o := p.object(r.props, r.propsAt, r.path(), streamKeys)
	s := Stream{LogicalID: r.id, Line: r.keyPos.line}
	s.Name, _ = p.physicalName(r)
	if _, at, ok := o.str("Name", false); ok && !streamNameRE.MatchString(s.Name) {
		o.errorf(at, "Name", "must be 1 to 128 letters, digits, _ . or -, got %s", quote(s.Name))
	} else if !ok && !streamNameRE.MatchString(s.Name) && s.Name != "" {
		p.errorf(r.keyPos, "%s: the logical ID is too long to be a stream name; set Name", r.path())
	}
	md := o.child("StreamModeDetails", []string{"StreamMode"})
	s.Mode = "PROVISIONED"
	if md.present() {
		s.Mode = md.enum("StreamMode", true, "PROVISIONED", "PROVISIONED", "ON_DEMAND")
	}
	if s.Mode == "ON_DEMAND" {
		s.ShardCount = onDemandShards
		if e := o.get("ShardCount"); e != nil {
			p.errorf(e.keyPos, "%s.ShardCount: must not be set when StreamMode is ON_DEMAND", o.path)
		}
	} else {
		// AWS leaves ShardCount's default unspecified; one shard is the least
		// surprising local choice.
		s.ShardCount = o.integer("ShardCount", 1, 1, 100000)
	}
	s.RetentionHours = o.integer("RetentionPeriodHours", 24, 24, 8760)
	o.integer("MaxRecordSizeInKiB", 1024, 1024, 10240)
	enc := o.child("StreamEncryption", []string{"EncryptionType", "KeyId"})
	if enc.present() {
		enc.enum("EncryptionType", true, "", "KMS")
		enc.str("KeyId", true)
	}
	p.plan.Streams = append(p.plan.Streams, s)
}
