package template

// consumerKeys are AWS::Kinesis::StreamConsumer's properties.
var consumerKeys = []string{"ConsumerName", "StreamARN", "Tags"}

// consumer reads an AWS::Kinesis::StreamConsumer: an enhanced fan-out
// consumer that `sluice up` registers on its stream.
func (p *parser) consumer(r *resource) {
	o := p.object(r.props, r.propsAt, r.path(), consumerKeys)
	c := StreamConsumer{LogicalID: r.id, Line: r.keyPos.line}
	if name, at, ok := o.str("ConsumerName", true); ok {
		if !streamNameRE.MatchString(name) {
			o.errorf(at, "ConsumerName", "must be 1 to 128 letters, digits, _ . or -, got %s", quote(name))
		}
		c.Name = name
	}
	if s, at, ok := o.str("StreamARN", true); ok {
		m := streamARN.FindStringSubmatch(s)
		if m == nil || m[2] != "" {
			o.errorf(at, "StreamARN", "must be a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME, e.g. !GetAtt Stream.Arn), got %s", quote(s))
		} else {
			c.Stream = m[1]
		}
	}
	p.plan.Consumers = append(p.plan.Consumers, c)
}

// consumerStream is the stream name of the consumer resource r, read
// straight from its properties (GetAtt may be resolved before r is read).
func (p *parser) consumerStream(r *resource) string {
	for _, c := range p.plan.Consumers {
		if c.LogicalID == r.id {
			return c.Stream
		}
	}
	v := p.shallow(r.props)
	if v == nil || v.kind != kMap {
		return ""
	}
	e := v.get("StreamARN")
	if e == nil {
		return ""
	}
	nv := p.resolve(e.val)
	if nv == nil || nv.kind != kScalar {
		return ""
	}
	if m := streamARN.FindStringSubmatch(nv.str); m != nil && m[2] == "" {
		return m[1]
	}
	return ""
}

// consumerARN is the consumer's ARN as the plan knows it: the real one ends
// in the registration time, known only at run time, so the plan writes 0
// there and the mapping finds the consumer by stream and name.
func (p *parser) consumerARN(r *resource, name string) string {
	return p.arn("kinesis", "stream/"+p.consumerStream(r)+"/consumer/"+name+":0")
}
