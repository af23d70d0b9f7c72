package plugin

import "debug/buildinfo"

// SetOpen replaces what LoadContext runs to load a plugin, until restore.
func SetOpen(f func(path string) (any, error)) (restore func()) {
	old := openPlugin
	openPlugin = f
	return func() { openPlugin = old }
}

// Compare exposes compare to tests.
var Compare = compare

// BuildFlags and BuildEnv expose what the builder mirrors from the host.
var (
	BuildFlags = buildFlags
	BuildEnv   = buildEnv
)

// CheckFileAgainst is CheckFile with a given host fingerprint: test binaries
// carry no module list, so tests supply the one a sluice binary would have.
func CheckFileAgainst(host Fingerprint, path string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return err
	}
	return compare(host, fingerprintOf(bi), path)
}
