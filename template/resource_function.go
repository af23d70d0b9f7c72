package template

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/runtime/loader"
)

// functionKeys are the AWS::Serverless::Function properties SAM defines.
// Sluice reads the ones in Function and accepts the rest, which only matter on
// AWS (IAM, VPC, tracing, deployment).
var functionKeys = []string{"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias",
	"AutoPublishAliasAllProperties", "AutoPublishCodeSha256", "CapacityProviderConfig", "CodeSigningConfigArn",
	"CodeUri", "DeadLetterQueue", "DeploymentPreference", "Description", "DurableConfig", "Environment",
	"EphemeralStorage", "EventInvokeConfig", "Events", "FileSystemConfigs", "FunctionName",
	"FunctionScalingConfig", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri", "InlineCode",
	"KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary", "Policies",
	"PropagateTags", "ProvisionedConcurrencyConfig", "PublishToLatestPublished", "RecursiveLoop",
	"ReservedConcurrentExecutions", "Role", "RolePath", "Runtime", "RuntimeManagementConfig", "SnapStart",
	"SourceKMSKeyArn", "Tags", "TenancyConfig", "Timeout", "Tracing", "VersionDeletionPolicy",
	"VersionDescription", "VpcConfig"}

// goRuntimes are the runtimes whose code a Go-only loader (loader.Spec.GoOnly,
// the plugin loader) can build: Go compiled to a bootstrap executable.
var goRuntimes = []string{"provided.al2023", "provided.al2", "provided", "go1.x"}

// lambdaRuntimes are the other Lambda runtime identifiers, so a typo gets a
// suggestion and a real non-Go runtime a clear message.
var lambdaRuntimes = []string{"nodejs18.x", "nodejs20.x", "nodejs22.x", "python3.9", "python3.10", "python3.11",
	"python3.12", "python3.13", "java11", "java17", "java21", "dotnet8", "ruby3.2", "ruby3.3", "ruby3.4"}

// reservedEnv are environment variables Lambda sets itself and refuses in
// Environment.Variables.
var reservedEnv = []string{"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
	"AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}

var (
	functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	envName      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)
)

func (p *parser) function(r *resource) {
	o := p.object(r.props, r.propsAt, r.path(), functionKeys)
	f := Function{LogicalID: r.id, Line: r.keyPos.line, Loader: loader.Default()}
	f.Name, _ = p.physicalName(r)
	if _, at, ok := o.str("FunctionName", false); ok && !functionName.MatchString(f.Name) {
		o.errorf(at, "FunctionName", "must be 1 to 64 letters, digits, - or _, got %s", quote(f.Name))
	}
	if pt := o.enum("PackageType", false, "Zip", "Zip", "Image"); pt == "Image" {
		o.errorf(o.get("PackageType").val.pos, "PackageType", "container images are not supported by Sluice; use Zip with CodeUri")
	}
	for _, k := range []string{"InlineCode", "ImageUri"} {
		if e := o.get(k); e != nil {
			p.errorf(e.keyPos, "%s.%s: not supported by Sluice, which builds functions from a local CodeUri directory", o.path, k)
		}
	}
	f.CodeDir = p.codeURI(o)
	f.Handler, _, _ = o.str("Handler", true)
	f.Runtime = o.enum("Runtime", true, "", append(slices.Clone(goRuntimes), lambdaRuntimes...)...)
	for _, a := range o.list("Architectures") {
		if a.kind != kScalar || (a.str != "x86_64" && a.str != "arm64") {
			o.errorf(a.pos, "Architectures", "must be x86_64 or arm64, got %s", a.describe())
		}
	}
	if as := o.list("Architectures"); len(as) > 1 {
		o.errorf(as[1].pos, "Architectures", "must list exactly one architecture")
	}
	f.MemorySize = o.integer("MemorySize", 128, 128, 10240)
	f.Timeout = time.Duration(o.integer("Timeout", 3, 1, 900)) * time.Second
	rc, at, ok := o.integerAt("ReservedConcurrentExecutions", 0, 0, 1000000)
	if ok && rc == 0 {
		p.warnf(at, "%s.ReservedConcurrentExecutions: 0 stops every invocation on AWS; Sluice reads it as unset", o.path)
	}
	f.ReservedConcurrency = rc

	meta := p.object(r.body.get("Metadata").valOrNil(), r.keyPos, "Resources."+r.id+".Metadata", nil)
	sluice := meta.child("Sluice", []string{"Loader", "DeliveryStream", "Mounts", "SoftTimeout"})
	f.Loader = p.loaderName(sluice)
	spec, _ := loader.Lookup(f.Loader)
	if spec.GoOnly && f.Runtime != "" && !contains(goRuntimes, f.Runtime) {
		others := loader.Matching(func(s loader.Spec) bool { return !s.GoOnly })
		o.errorf(o.get("Runtime").val.pos, "Runtime", "the %s loader runs Go functions only (%s); set Metadata.Sluice.Loader: %s for other languages", f.Loader, oneOf(goRuntimes), oneOf(others))
	}
	p.loaderSettings(sluice, spec, &f)

	deliveries := p.environment(o, &f)
	f.DeliveryStream = p.pickDelivery(sluice, deliveries)

	events := o.child("Events", nil)
	if events.present() {
		for _, e := range events.v.entries {
			if ev, ok := p.event(o.path+".Events", e); ok {
				f.Events = append(f.Events, ev)
			}
		}
	}
	p.plan.Functions = append(p.plan.Functions, f)
}

// valOrNil lets optional entries be passed straight to object.
func (e *entry) valOrNil() *value {
	if e == nil {
		return nil
	}
	return e.val
}

// codeURI resolves CodeUri to an absolute directory. Only local paths make
// sense for a runtime that builds from source; an S3 location is an error.
func (p *parser) codeURI(o *object) string {
	v := o.val("CodeUri")
	switch {
	case v == nil:
		o.missing("CodeUri")
		return ""
	case v.kind == kInvalid:
		return ""
	case v.kind != kScalar:
		o.errorf(v.pos, "CodeUri", "must be a local directory; S3 locations are not supported by Sluice")
		return ""
	case strings.HasPrefix(v.str, "s3://"):
		o.errorf(v.pos, "CodeUri", "must be a local directory, got S3 location %s", quote(v.str))
		return ""
	case v.str == "":
		o.errorf(v.pos, "CodeUri", "must not be empty")
		return ""
	}
	dir := filepath.FromSlash(v.str)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.plan.TemplateDir, dir)
	}
	return filepath.Clean(dir)
}

// environment reads Environment.Variables into f and returns the logical
// IDs of the delivery streams referenced with !Ref, in order.
func (p *parser) environment(o *object, f *Function) []string {
	vars := o.child("Environment", []string{"Variables"}).child("Variables", nil)
	if !vars.present() {
		return nil
	}
	var deliveries []string
	for _, e := range vars.v.entries {
		switch {
		case !envName.MatchString(e.key):
			p.errorf(e.keyPos, "%s: variable name %s must start with a letter and have only letters, digits and _", vars.path, quote(e.key))
			continue
		case contains(reservedEnv, e.key):
			p.errorf(e.keyPos, "%s: %s is reserved by Lambda", vars.path, e.key)
			continue
		}
		v, ok := vars.scalarVal(e.key, false)
		if !ok {
			continue
		}
		if f.Environment == nil {
			f.Environment = map[string]string{}
		}
		f.Environment[e.key] = v.str
		if v.origin != "" && v.attr == "" && p.res[v.origin].typ == typeDelivery && !contains(deliveries, v.origin) {
			deliveries = append(deliveries, v.origin)
		}
	}
	return deliveries
}

// loaderName reads Metadata.Sluice.Loader: one of the registered loaders
// (runtime/loader), the default one when absent. A program that links no
// loader cannot check the name, and takes it as it is.
func (p *parser) loaderName(sluice *object) string {
	names := loader.Names()
	if len(names) == 0 {
		name, _, _ := sluice.str("Loader", false)
		return name
	}
	return sluice.enum("Loader", false, loader.Default(), names...)
}

// loaderSettings reads the settings only some loaders honour — what a
// sandboxed guest may reach beyond its sandbox: read-only directory
// mounts, and SoftTimeout — and refuses them for a loader that does not
// (a plugin shares the host's process, file system and network), saying
// why.
func (p *parser) loaderSettings(sluice *object, spec loader.Spec, f *Function) {
	// refusal is the error for setting under a loader that ignores it.
	refusal := func(setting string) string {
		honouring := loader.Matching(func(s loader.Spec) bool { return s.Honours(setting) })
		msg := fmt.Sprintf("applies to the %s loader only", oneOf(honouring))
		if why := spec.Refusals[setting]; why != "" {
			msg += ": " + why
		}
		return msg
	}
	if sluice.has("SoftTimeout") {
		f.SoftTimeout = sluice.boolean("SoftTimeout", false)
		if !spec.Honours("SoftTimeout") {
			sluice.errorf(sluice.get("SoftTimeout").keyPos, "SoftTimeout", "%s", refusal("SoftTimeout"))
		}
	}
	mounts := sluice.child("Mounts", nil)
	if !mounts.present() {
		return
	}
	if !spec.Honours("Mounts") {
		mounts.p.errorf(mounts.at, "%s: %s", mounts.path, refusal("Mounts"))
		return
	}
	for _, e := range mounts.v.entries {
		host, at, ok := mounts.str(e.key, false)
		if !ok {
			continue
		}
		switch {
		case !strings.HasPrefix(e.key, "/"):
			p.errorf(e.keyPos, "%s: guest path %s must be absolute, e.g. /data", mounts.path, quote(e.key))
			continue
		case host == "":
			mounts.errorf(at, e.key, "host directory must not be empty")
			continue
		}
		if !filepath.IsAbs(host) {
			host = filepath.Join(p.plan.TemplateDir, filepath.FromSlash(host))
		}
		if f.Mounts == nil {
			f.Mounts = map[string]string{}
		}
		f.Mounts[e.key] = filepath.Clean(host)
	}
}

// pickDelivery chooses the function's delivery stream: the only one its
// environment references, or Metadata.Sluice.DeliveryStream.
func (p *parser) pickDelivery(sluice *object, refs []string) string {
	id, at, set := sluice.str("DeliveryStream", false)
	if !set {
		if len(refs) > 1 {
			p.errorf(sluice.at, "%s: Environment references several delivery streams (%s); set Metadata.Sluice.DeliveryStream to one of them", strings.TrimSuffix(sluice.path, ".Metadata.Sluice"), strings.Join(refs, ", "))
			return ""
		}
		if len(refs) == 1 {
			return refs[0]
		}
		return ""
	}
	r := p.res[id]
	switch {
	case r == nil:
		var ids []string
		for _, k := range p.resOrder {
			if p.res[k].typ == typeDelivery {
				ids = append(ids, k)
			}
		}
		sluice.errorf(at, "DeliveryStream", "no resource %s%s", id, suggest(id, ids))
	case r.typ != typeDelivery:
		sluice.errorf(at, "DeliveryStream", "%s is a %s, not an %s", id, r.typ, typeDelivery)
	case !r.enabled:
		sluice.errorf(at, "DeliveryStream", "%s is not created because its condition %s is false", id, r.cond)
	default:
		return id
	}
	return ""
}
