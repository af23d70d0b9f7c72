package template

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

var kinesisEventKeys = []string{"Stream", "StartingPosition", "StartingPositionTimestamp", "BatchSize",
	"MaximumBatchingWindowInSeconds", "ParallelizationFactor", "BisectBatchOnFunctionError",
	"MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "DestinationConfig", "FunctionResponseTypes",
	"TumblingWindowInSeconds", "FilterCriteria", "Enabled", "KmsKeyArn", "MetricsConfig"}

// event reads one Events entry; only Kinesis events become mappings.
func (p *parser) event(path string, e entry) (KinesisEvent, bool) {
	path += "." + e.key
	ev := KinesisEvent{Name: e.key, Line: e.keyPos.line}
	if !logicalID.MatchString(e.key) {
		p.errorf(e.keyPos, "%s: event names must be alphanumeric", path)
		return ev, false
	}
	o := p.object(e.val, e.keyPos, path, []string{"Type", "Properties"})
	if !o.present() {
		if e.val.kind == kNull {
			o.missing("Type")
		}
		return ev, false
	}
	typ, at, ok := o.str("Type", true)
	if !ok {
		return ev, false
	}
	if typ != "Kinesis" {
		o.errorf(at, "Type", "unsupported event type %s: Sluice runs Kinesis events only", quote(typ))
		return ev, false
	}
	p.evPos[strings.Split(path, ".")[1]+"/"+e.key] = e.keyPos
	pe := o.get("Properties")
	ps := p.object(pe.valOrNil(), e.keyPos, path+".Properties", kinesisEventKeys)
	if pe != nil {
		ps.at = pe.keyPos
	}
	ps.strict = true
	ok = true
	if s, at, has := ps.str("Stream", true); has {
		ev.Stream = p.streamFromARN(ps, "Stream", s, at)
		if m := streamARN.FindStringSubmatch(s); m != nil && m[2] != "" {
			ev.Consumer = m[3]
		}
	} else {
		ok = false
	}
	ev.StartingPosition = ps.enum(esmparam.StartingPosition.Name, true, "", esmparam.StartingPosition.Values...)
	if tv, has := ps.scalarValTyped("StartingPositionTimestamp", "a number of seconds"); has {
		sec, err := strconv.ParseFloat(tv.str, 64)
		switch {
		case err != nil || sec < 0 || math.IsInf(sec, 0) || sec > 1e11:
			ps.errorf(tv.pos, "StartingPositionTimestamp", "must be Unix seconds, got %s", quote(tv.str))
		case ev.StartingPosition != "AT_TIMESTAMP":
			ps.errorf(tv.pos, "StartingPositionTimestamp", "is only valid with StartingPosition AT_TIMESTAMP")
		default:
			whole, frac := math.Modf(sec)
			t := time.Unix(int64(whole), int64(frac*1e9)).UTC()
			ev.StartingPositionTimestamp = &t
		}
	} else if ev.StartingPosition == "AT_TIMESTAMP" && ps.val("StartingPositionTimestamp") == nil {
		p.errorf(ps.at, "%s: StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp", ps.path)
	}
	ev.BatchSize = mappingInt(ps, esmparam.BatchSize)
	ev.MaximumBatchingWindow = mappingSeconds(ps, esmparam.MaximumBatchingWindowInSeconds)
	ev.ParallelizationFactor = mappingInt(ps, esmparam.ParallelizationFactor)
	ev.BisectBatchOnFunctionError = ps.boolean("BisectBatchOnFunctionError", false)
	ev.MaximumRetryAttempts = mappingInt(ps, esmparam.MaximumRetryAttempts)
	// The plan says "no limit" with -1 ns, not the table's -1 s: plans are
	// compared and printed, and the trigger reads either as -1.
	ev.MaximumRecordAge = -1
	if age := mappingInt(ps, esmparam.MaximumRecordAgeInSeconds); age > 0 {
		ev.MaximumRecordAge = esmparam.MaximumRecordAgeInSeconds.Duration(age)
	}
	ev.TumblingWindow = mappingSeconds(ps, esmparam.TumblingWindowInSeconds)
	if tw := ps.get("TumblingWindowInSeconds"); tw != nil && ev.TumblingWindow > 0 && ev.ParallelizationFactor > 1 {
		// The mapping keeps one window state per shard; how AWS combines
		// windows with lanes is undocumented, so the trigger refuses the
		// pair and the template says so before anything starts.
		ps.errorf(tw.val.pos, "TumblingWindowInSeconds", "needs ParallelizationFactor 1 (one window state per shard), got ParallelizationFactor %d", ev.ParallelizationFactor)
	}
	ev.Enabled = ps.boolean("Enabled", true)
	for i, t := range ps.list("FunctionResponseTypes") {
		if t.kind != kScalar || t.str != "ReportBatchItemFailures" {
			ps.errorf(t.pos, "FunctionResponseTypes", "the only valid item is ReportBatchItemFailures, got %s", t.describe())
		} else if i > 0 {
			ps.errorf(t.pos, "FunctionResponseTypes", "must have at most one item")
		} else {
			ev.FunctionResponseTypes = append(ev.FunctionResponseTypes, t.str)
		}
	}
	ev.OnFailureBucket = p.onFailure(ps.child("DestinationConfig", []string{"OnFailure", "OnSuccess"}))
	ev.FilterPatterns = p.filters(ps)
	ps.str("KmsKeyArn", false)
	mc := ps.child("MetricsConfig", []string{"Metrics"})
	for _, m := range mc.list("Metrics") {
		if m.kind != kScalar || m.str != "EventCount" {
			mc.errorf(m.pos, "Metrics", "the only valid Kinesis metric is EventCount, got %s", m.describe())
		}
	}
	return ev, ok
}

// mappingInt reads one integer parameter of the mapping. Its range, default
// and refusal come from esmparam, which the trigger checks against too, so
// `sluice validate` refuses exactly what a mapping would refuse to start
// with. An absent or refused value reads as the default.
func mappingInt(ps *object, p esmparam.Int) int {
	n, at, ok := ps.integerAt(p.Name, p.Default, math.MinInt, math.MaxInt)
	if !ok {
		return p.Default
	}
	if err := p.Check(n); err != nil {
		ps.errorf(at, p.Name, "%v", err)
		return p.Default
	}
	return n
}

// mappingSeconds reads a duration parameter of the mapping (…InSeconds).
func mappingSeconds(ps *object, p esmparam.Int) time.Duration {
	return p.Duration(mappingInt(ps, p))
}

var streamARN = regexp.MustCompile(`^arn:[a-z-]+:kinesis:[a-z0-9-]*:\d{12}:stream/([a-zA-Z0-9_.-]{1,128})(/consumer/([a-zA-Z0-9_.-]{1,128}):\d+)?$`)
var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// streamFromARN extracts the stream name from a stream or consumer ARN. A
// bare name (from !Ref) is accepted with a warning: it works locally, but
// AWS wants the ARN.
func (p *parser) streamFromARN(o *object, key, s string, at pos) string {
	if m := streamARN.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if !strings.HasPrefix(s, "arn:") && streamNameRE.MatchString(s) {
		p.warnf(at, "%s.%s: %s is a stream name; AWS needs the stream ARN (!GetAtt Stream.Arn)", o.path, key, quote(s))
		return s
	}
	o.errorf(at, key, "must be a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME), got %s", quote(s))
	return ""
}

var s3ARN = regexp.MustCompile(`^arn:[a-z-]+:s3:::([\w.-]{1,255})$`)

// onFailure reads DestinationConfig and returns the bucket name. Sluice
// writes failure records to buckets only; SQS and SNS have no local
// equivalent, and silently dropping failures would be worse than an error.
func (p *parser) onFailure(dc *object) string {
	if !dc.present() {
		return ""
	}
	if e := dc.get("OnSuccess"); e != nil {
		p.errorf(e.keyPos, "%s.OnSuccess: not supported for Kinesis event sources", dc.path)
	}
	of := dc.child("OnFailure", []string{"Destination", "Type"})
	typ := of.enum("Type", false, "", "SQS", "SNS", "S3", "Kafka")
	dest, at, ok := of.strLen("Destination", of.present(), 12, 1024)
	if !ok {
		return ""
	}
	m := s3ARN.FindStringSubmatch(dest)
	if m == nil {
		of.errorf(at, "Destination", "Sluice supports S3 bucket destinations only (arn:aws:s3:::BUCKET), got %s", quote(dest))
		return ""
	}
	if typ != "" && typ != "S3" {
		of.errorf(at, "Destination", "is an S3 bucket but Type is %s", typ)
	}
	return m[1]
}

// filters reads FilterCriteria, which SAM requires to be {} or exactly
// {Filters: [...]}.
func (p *parser) filters(ps *object) []string {
	fc := ps.child("FilterCriteria", []string{"Filters"})
	if !fc.present() {
		return nil
	}
	if len(fc.v.entries) == 0 {
		return nil
	}
	items := fc.list("Filters")
	if fc.has("Filters") && len(items) == 0 {
		fc.errorf(fc.get("Filters").val.pos, "Filters", "must have at least one filter")
	}
	if len(items) > 10 {
		fc.errorf(items[10].pos, "Filters", "at most 10 filters are allowed per event source, got %d", len(items))
	}
	var out []string
	for i, it := range items {
		f := p.object(it, it.pos, fc.path+".Filters["+strconv.Itoa(i)+"]", []string{"Pattern"})
		pat, at, ok := f.strLen("Pattern", true, 0, 4096)
		if !ok {
			continue
		}
		if !isJSONObject(pat) {
			f.errorf(at, "Pattern", "must be a JSON object, got %s", quote(pat))
			continue
		}
		out = append(out, pat)
	}
	return out
}
