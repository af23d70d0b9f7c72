package template

// globalsFunctionKeys are the properties SAM accepts in Globals.Function
// (SAM translator globals.py). Role, Policies, FunctionName and Events are
// deliberately absent: SAM rejects them there.
var globalsFunctionKeys = []string{"Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description",
	"MemorySize", "Timeout", "VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn",
	"AutoPublishAlias", "AutoPublishAliasAllProperties", "Layers", "DeploymentPreference", "RolePath",
	"PermissionsBoundary", "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig",
	"AssumeRolePolicyDocument", "EventInvokeConfig", "FileSystemConfigs", "CodeSigningConfigArn",
	"Architectures", "SnapStart", "EphemeralStorage", "FunctionUrlConfig", "RuntimeManagementConfig",
	"LoggingConfig", "RecursiveLoop", "SourceKMSKeyArn", "TenancyConfig", "DurableConfig",
	"CapacityProviderConfig", "FunctionScalingConfig", "PublishToLatestPublished", "VersionDeletionPolicy"}

// globalsSections are the Globals sections SAM defines; only Function
// matters to Sluice.
var globalsSections = []string{"Function", "Api", "HttpApi", "SimpleTable", "StateMachine", "LayerVersion",
	"CapacityProvider"}

func (p *parser) readGlobals(e *entry) {
	if e == nil {
		return
	}
	if e.val.kind != kMap || len(e.val.entries) == 0 {
		p.errorf(e.val.pos, "Globals must be a non-empty mapping")
		return
	}
	for _, s := range e.val.entries {
		if !contains(globalsSections, s.key) {
			p.errorf(s.keyPos, "unknown Globals section %s%s", s.key, suggest(s.key, globalsSections))
		}
	}
	f := e.val.get("Function")
	if f == nil {
		return
	}
	if f.val.kind != kMap {
		p.errorf(f.val.pos, "Globals.Function must be a mapping, got %s", f.val.describe())
		return
	}
	ok := true
	for _, k := range f.val.entries {
		if !contains(globalsFunctionKeys, k.key) {
			p.errorf(k.keyPos, "Globals.Function.%s is not a supported property%s", k.key, suggest(k.key, globalsFunctionKeys))
			ok = false
		}
	}
	if ok {
		p.globals = f.val
	}
}

// mergeGlobals merges Globals.Function into a function's Properties as SAM
// does (globals.py _do_merge), before intrinsics are resolved:
//   - map and map merge recursively, the resource's keys winning;
//   - list and list concatenate, global items first;
//   - anything else, or an intrinsic on either side: the resource wins.
//
// The result shares leaves with both inputs; positions stay those of the
// text each value came from, so an error in a global points at Globals.
func mergeGlobals(global, local *value) *value {
	if local == nil || local.kind == kNull {
		return global
	}
	if global == nil {
		return local
	}
	_, gi := global.intrinsic()
	_, li := local.intrinsic()
	if gi || li {
		return local
	}
	switch {
	case global.kind == kMap && local.kind == kMap:
		out := &value{kind: kMap, pos: local.pos}
		for _, g := range global.entries {
			if l := local.get(g.key); l != nil {
				out.entries = append(out.entries, entry{key: g.key, keyPos: l.keyPos, val: mergeGlobals(g.val, l.val)})
			} else {
				out.entries = append(out.entries, g)
			}
		}
		for _, l := range local.entries {
			if global.get(l.key) == nil {
				out.entries = append(out.entries, l)
			}
		}
		return out
	case global.kind == kList && local.kind == kList:
		out := &value{kind: kList, pos: local.pos}
		out.items = append(append(out.items, global.items...), local.items...)
		return out
	}
	return local
}
