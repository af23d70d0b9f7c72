package template

import (
	"regexp"
	"strings"
)

// Resource types Sluice reads.
const (
	typeFunction       = "AWS::Serverless::Function"
	typeLambdaFunction = "AWS::Lambda::Function"
	typeStream         = "AWS::Kinesis::Stream"
	typeConsumer       = "AWS::Kinesis::StreamConsumer"
	typeDelivery       = "AWS::KinesisFirehose::DeliveryStream"
	typeBucket         = "AWS::S3::Bucket"
	typeRole           = "AWS::IAM::Role"
	typeGlueDatabase   = "AWS::Glue::Database"
	typeGlueTable      = "AWS::Glue::Table"
	typeQueue          = "AWS::SQS::Queue"
	typeTopic          = "AWS::SNS::Topic"
)

// ignoredTypes are accepted without a warning: they matter on AWS (IAM,
// Glue schemas for a later Parquet plan) but change nothing locally.
var ignoredTypes = []string{typeRole, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", typeGlueDatabase,
	typeGlueTable, "AWS::Lambda::Permission", "AWS::Logs::LogGroup"}

var resourceKeys = []string{"Type", "Properties", "Metadata", "Condition", "DependsOn", "DeletionPolicy",
	"UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy"}

var logicalID = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// resource is one entry of the Resources section.
type resource struct {
	id, typ string
	keyPos  pos
	body    *object
	props   *value // raw Properties; for functions merged with Globals.Function
	propsAt pos
	cond    string
	condOK  bool // the condition evaluated without error
	enabled bool

	name      string
	nameState int // 0 new, 1 computing, 2 done
}

func (r *resource) path() string { return "Resources." + r.id + ".Properties" }

// resources registers every resource first, so references may point
// forward, then reads each supported one in file order.
func (p *parser) resources(e *entry) {
	if e == nil {
		p.errorf(pos{1, 1}, "missing Resources section")
		return
	}
	if e.val.kind != kMap || len(e.val.entries) == 0 {
		p.errorf(e.val.pos, "Resources must be a non-empty mapping")
		return
	}
	var list []*resource
	for _, re := range e.val.entries {
		r := &resource{id: re.key, keyPos: re.keyPos, enabled: true, condOK: true}
		path := "Resources." + re.key
		switch {
		case !logicalID.MatchString(re.key):
			p.errorf(re.keyPos, "%s: logical IDs must be alphanumeric", path)
			continue
		case p.prm[re.key] != nil:
			p.errorf(re.keyPos, "%s: logical ID is also a parameter name", path)
			continue
		}
		r.body = p.object(re.val, re.keyPos, path, resourceKeys)
		if !r.body.present() {
			if re.val.kind != kMap {
				continue // reported by object
			}
		}
		t, _, ok := r.body.literal("Type", true)
		if !ok {
			continue
		}
		r.typ = t
		if pe := r.body.get("Properties"); pe != nil {
			r.props, r.propsAt = pe.val, pe.keyPos
		} else {
			r.propsAt = re.keyPos
		}
		if r.typ == typeFunction && p.globals != nil {
			r.props = mergeGlobals(p.globals, r.props)
		}
		p.res[r.id] = r
		p.resOrder = append(p.resOrder, r.id)
		list = append(list, r)
	}
	// Conditions may not reference resources, so they can be evaluated now.
	for _, r := range list {
		if c := r.body.get("Condition"); c != nil {
			r.cond = c.val.str
			r.enabled, r.condOK = p.conditionNamed(c.val)
			if !r.condOK {
				r.enabled = false
			}
		}
	}
	for _, r := range list {
		p.dependsOn(r)
		if !r.enabled {
			continue
		}
		switch r.typ {
		case typeFunction:
			p.function(r)
		case typeStream:
			p.stream(r)
		case typeConsumer:
			p.consumer(r)
		case typeDelivery:
			p.deliveryStream(r)
		case typeBucket:
			p.bucket(r)
		default:
			if !contains(ignoredTypes, r.typ) {
				p.warnf(r.keyPos, "Resources.%s: resource type %s is not run by Sluice; ignored", r.id, r.typ)
			}
		}
	}
	p.link()
}

func (p *parser) dependsOn(r *resource) {
	d := r.body.get("DependsOn")
	if d == nil {
		return
	}
	items := []*value{d.val}
	if d.val.kind == kList {
		items = d.val.items
	}
	for _, it := range items {
		if it.kind != kScalar {
			p.errorf(it.pos, "Resources.%s.DependsOn: must be a logical ID or a list of them, got %s", r.id, it.describe())
			continue
		}
		if p.res[it.str] == nil {
			p.errorf(it.pos, "Resources.%s.DependsOn: no resource %s%s", r.id, it.str, suggest(it.str, p.resOrder))
		}
	}
}

// nameProperty is the property holding a type's physical name.
var nameProperty = map[string][]string{
	typeFunction:       {"FunctionName"},
	typeLambdaFunction: {"FunctionName"},
	typeStream:         {"Name"},
	typeConsumer:       {"ConsumerName"},
	typeDelivery:       {"DeliveryStreamName"},
	typeBucket:         {"BucketName"},
	typeRole:           {"RoleName"},
	typeGlueDatabase:   {"DatabaseInput", "Name"},
	typeGlueTable:      {"TableInput", "Name"},
	typeQueue:          {"QueueName"},
	typeTopic:          {"TopicName"},
}

// physicalName is r's name: its name property, else the logical ID (the
// lower-cased logical ID for buckets, which must be lower case). It is
// computed once, on first use, so that references can point forward.
func (p *parser) physicalName(r *resource) (string, bool) {
	switch r.nameState {
	case 1:
		p.errorf(r.keyPos, "Resources.%s: its name depends on itself", r.id)
		r.name = ""
		return "", false
	case 2:
		return r.name, r.name != ""
	}
	r.nameState = 1
	r.name = r.id
	if r.typ == typeBucket {
		r.name = strings.ToLower(r.id)
	}
	v := p.shallow(r.props)
	path := nameProperty[r.typ]
	for i, k := range path {
		if v == nil || v.kind != kMap {
			break
		}
		e := v.get(k)
		if e == nil {
			break
		}
		if i < len(path)-1 {
			v = p.shallow(e.val)
			continue
		}
		nv := p.resolve(e.val)
		switch {
		case nv == nil || nv.kind == kNull:
		case nv.kind == kInvalid:
			r.name = ""
		case nv.kind != kScalar:
			p.errorf(nv.pos, "%s.%s: must be a string, got %s", r.path(), strings.Join(path, "."), nv.describe())
			r.name = ""
		default:
			r.name = nv.str
		}
	}
	if r.nameState == 1 {
		r.nameState = 2
	}
	return r.name, r.name != ""
}

// refValue is what !Ref returns for r (CloudFormation "Return values").
func (p *parser) refValue(r *resource, at pos) string {
	name, _ := p.physicalName(r)
	switch r.typ {
	case typeQueue:
		return "https://sqs." + p.opts.Region + ".amazonaws.com/" + p.opts.AccountID + "/" + name
	case typeTopic:
		return p.arn("sns", name)
	case typeConsumer:
		return p.consumerARN(r, name) // CloudFormation's Ref of a consumer is its ARN
	}
	return name
}

func (p *parser) arn(service, resource string) string {
	return "arn:" + p.partition() + ":" + service + ":" + p.opts.Region + ":" + p.opts.AccountID + ":" + resource
}

// attrValue is what !GetAtt r.attr returns. ARNs are built per service,
// unlike sam local, which gives every ARN the Lambda format.
func (p *parser) attrValue(r *resource, attr string, at pos) (string, bool) {
	if names, known := attrNames[r.typ]; known && !contains(names, attr) {
		if len(names) == 0 {
			p.errorf(at, "GetAtt %s.%s: %s has no attributes Sluice can resolve", r.id, attr, r.typ)
		} else {
			p.errorf(at, "GetAtt %s.%s: %s has no attribute %s%s", r.id, attr, r.typ, attr, suggest(attr, names))
		}
		return "", false
	}
	name, ok := p.physicalName(r)
	if !ok {
		return "", false
	}
	attrs := map[string]string{}
	switch r.typ {
	case typeFunction, typeLambdaFunction:
		attrs["Arn"] = p.arn("lambda", "function:"+name)
	case typeStream:
		attrs["Arn"] = p.arn("kinesis", "stream/"+name)
	case typeConsumer:
		attrs["ConsumerARN"] = p.consumerARN(r, name)
		attrs["ConsumerName"] = name
		if s := p.consumerStream(r); s != "" {
			attrs["StreamARN"] = p.arn("kinesis", "stream/"+s)
		}
	case typeDelivery:
		attrs["Arn"] = p.arn("firehose", "deliverystream/"+name)
	case typeBucket:
		attrs["Arn"] = "arn:" + p.partition() + ":s3:::" + name
		attrs["DomainName"] = name + ".s3.amazonaws.com"
		attrs["RegionalDomainName"] = name + ".s3." + p.opts.Region + ".amazonaws.com"
	case typeRole:
		attrs["Arn"] = "arn:" + p.partition() + ":iam::" + p.opts.AccountID + ":role/" + name
	case typeQueue:
		attrs["Arn"] = p.arn("sqs", name)
		attrs["QueueName"] = name
		attrs["QueueUrl"] = p.refValue(r, at)
	case typeTopic:
		attrs["TopicArn"] = p.arn("sns", name)
		attrs["TopicName"] = name
	case typeGlueDatabase, typeGlueTable:
	default:
		// A type Sluice does not model: give a plausible ARN so templates
		// that only pass it through still resolve.
		if attr == "Arn" {
			parts := strings.Split(r.typ, "::")
			svc := "unknown"
			if len(parts) == 3 {
				svc = strings.ToLower(parts[1])
			}
			return p.arn(svc, name), true
		}
		p.warnf(at, "GetAtt %s.%s: Sluice does not model %s; using %q", r.id, attr, r.typ, r.id+"."+attr)
		return r.id + "." + attr, true
	}
	return attrs[attr], true
}

// attrNames are the GetAtt attributes Sluice resolves per modelled type.
var attrNames = map[string][]string{
	typeFunction:       {"Arn"},
	typeLambdaFunction: {"Arn"},
	typeStream:         {"Arn"},
	typeConsumer:       {"ConsumerARN", "ConsumerName", "StreamARN"},
	typeDelivery:       {"Arn"},
	typeBucket:         {"Arn", "DomainName", "RegionalDomainName"},
	typeRole:           {"Arn"},
	typeQueue:          {"Arn", "QueueName", "QueueUrl"},
	typeTopic:          {"TopicArn", "TopicName"},
	typeGlueDatabase:   {},
	typeGlueTable:      {},
}

// link connects the plan's pieces once every resource is read: events to the
// streams they read, and reports duplicate physical names.
func (p *parser) link() {
	streams := map[string]string{}
	seen := map[string]map[string]string{}
	dup := func(kind, name, id string) {
		if seen[kind] == nil {
			seen[kind] = map[string]string{}
		}
		if name == "" {
			return // the name failed to resolve, which is already reported
		}
		if first, ok := seen[kind][name]; ok {
			p.errorf(p.res[id].keyPos, "Resources.%s: %s name %s is already used by %s", id, kind, quote(name), first)
			return
		}
		seen[kind][name] = id
	}
	for _, s := range p.plan.Streams {
		streams[s.Name] = s.LogicalID
		dup("stream", s.Name, s.LogicalID)
	}
	for _, d := range p.plan.DeliveryStreams {
		dup("delivery stream", d.Name, d.LogicalID)
	}
	for _, c := range p.plan.Consumers {
		dup("consumer of "+c.Stream, c.Name, c.LogicalID)
		if _, ok := streams[c.Stream]; !ok && c.Stream != "" {
			p.warnf(p.res[c.LogicalID].keyPos, "Resources.%s: consumer of stream %s, which this template does not declare; it must exist on the Kinesis endpoint", c.LogicalID, quote(c.Stream))
		}
	}
	for _, b := range p.plan.Buckets {
		dup("bucket", b.Name, b.LogicalID)
	}
	for fi := range p.plan.Functions {
		f := &p.plan.Functions[fi]
		dup("function", f.Name, f.LogicalID)
		for ei := range f.Events {
			ev := &f.Events[ei]
			if id, ok := streams[ev.Stream]; ok {
				ev.StreamLogicalID = id
			} else if ev.Stream != "" {
				p.warnf(p.evPos[f.LogicalID+"/"+ev.Name], "Resources.%s: event %s reads stream %s, which this template does not declare; it must exist on the Kinesis endpoint", f.LogicalID, ev.Name, quote(ev.Stream))
			}
		}
	}
}
