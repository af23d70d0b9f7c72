package plugin

import (
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// mirroredSettings are the build settings a plugin must share with its host:
// Go refuses (or crashes on) a plugin whose runtime packages were compiled
// differently ("plugin was built with a different version of package
// internal/goarch").
var mirroredSettings = []string{"-race", "-msan", "-asan", "-tags", "-trimpath", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64"}

// Fingerprint is what a plugin must agree on with the host that loads it.
type Fingerprint struct {
	GoVersion string
	Settings  map[string]string // only mirroredSettings
	Deps      map[string]string // module path → version (plus sum when known)
}

var (
	hostOnce sync.Once
	hostFP   Fingerprint
	hostID   string
	hostErr  error
)

// HostFingerprint describes the running binary.
func HostFingerprint() (Fingerprint, error) {
	hostOnce.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			hostErr = fmt.Errorf("host binary carries no build information")
			return
		}
		hostFP = fingerprintOf(bi)
		hostID = executableBuildID()
	})
	return hostFP, hostErr
}

func fingerprintOf(bi *debug.BuildInfo) Fingerprint {
	fp := Fingerprint{GoVersion: bi.GoVersion, Settings: map[string]string{}, Deps: map[string]string{}}
	for _, s := range bi.Settings {
		for _, k := range mirroredSettings {
			if s.Key == k && s.Value != "" && s.Value != "false" {
				fp.Settings[k] = s.Value
			}
		}
	}
	// Keyed by the module's own path even when a replace directive swaps
	// it, so a replaced module is compared with the host's copy of it.
	for _, d := range bi.Deps {
		v := d.Version
		if r := d.Replace; r != nil {
			switch {
			case r.Version == "(devel)":
				v = "replaced by " + r.Path
			case r.Version != "" && r.Path == d.Path:
				v = r.Version
			case r.Version != "":
				v = r.Path + " " + r.Version
			default:
				v = "replaced by " + r.Path
			}
		}
		fp.Deps[d.Path] = v
	}
	return fp
}

// key hashes the fingerprint and the host's Go build ID: a host rebuilt from
// changed sources (say, a new sdk) needs its plugins rebuilt too, because
// every package they share must be byte-for-byte the same build.
func (fp Fingerprint) key() string {
	h := sha256.New()
	fmt.Fprintln(h, fp.GoVersion, hostID)
	for _, k := range sortedKeys(fp.Settings) {
		fmt.Fprintln(h, k, fp.Settings[k])
	}
	for _, k := range sortedKeys(fp.Deps) {
		fmt.Fprintln(h, k, fp.Deps[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckFile compares the build information inside a compiled plugin with the
// host's, before plugin.Open: opening a plugin from another toolchain
// crashes the whole process instead of returning an error.
func CheckFile(path string) error {
	host, err := HostFingerprint()
	if err != nil {
		return err
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("plugin %s: reading build information: %w (rebuild it with `sluice build`)", path, err)
	}
	return compare(host, fingerprintOf(bi), path)
}

func compare(host, plug Fingerprint, path string) error {
	var problems []string
	if plug.GoVersion != host.GoVersion {
		problems = append(problems, fmt.Sprintf("it was built with %s, the host runs %s", plug.GoVersion, host.GoVersion))
	}
	for _, k := range mirroredSettings {
		if plug.Settings[k] != host.Settings[k] {
			problems = append(problems, fmt.Sprintf("build setting %s is %q in the plugin, %q in the host", k, plug.Settings[k], host.Settings[k]))
		}
	}
	for _, mod := range sortedKeys(plug.Deps) {
		if hv, ok := host.Deps[mod]; ok && hv != plug.Deps[mod] {
			problems = append(problems, fmt.Sprintf("it uses %s %s, the host has %s", mod, plug.Deps[mod], hv))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &MismatchError{Path: path, Problems: problems}
}

// MismatchError says why a plugin cannot be loaded into this host and what to
// do about it.
type MismatchError struct {
	Path     string
	Problems []string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("plugin %s does not match this sluice binary: %s; rebuild the function with this binary (`sluice build`) and align its go.mod with sluice's module versions",
		e.Path, strings.Join(e.Problems, "; "))
}

// executableBuildID reads the Go build ID note of the running executable
// (cheap: one ELF section), or "" where there is none.
func executableBuildID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	data, err := sec.Data()
	if err != nil || len(data) < 16 {
		return ""
	}
	nameSize := binary.LittleEndian.Uint32(data[0:4])
	descSize := binary.LittleEndian.Uint32(data[4:8])
	off := 12 + int((nameSize+3)&^3)
	if off+int(descSize) > len(data) {
		return ""
	}
	return string(data[off : off+int(descSize)])
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
