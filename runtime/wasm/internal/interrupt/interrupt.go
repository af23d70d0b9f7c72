// Package interrupt rewrites a WebAssembly module so that the host can stop
// it at its deadline by setting a global: a hard timeout that costs a few
// instructions per loop iteration instead of an exit to Go.
//
// wazero (v1.12) stops a running guest only with WithCloseOnContextDone,
// which compiles every loop header into a call out of native code into Go
// and back to ask whether the module was closed (wazero#2466). Go's WASM
// code generator routes every taken jump of a function through a loop, so a
// Go guest pays that exit on nearly every branch: 4–6× slower code.
//
// Instrument gets the same guarantee from the module itself. It adds two
// mutable i32 globals — interrupt, exported as Export and set by the host,
// and fuel, private — and at the top of every loop body inserts
//
//	fuel = fuel - 1
//	if fuel == 0 {
//	    memory.grow 0   ;; exits to Go: a point where the Go scheduler can stop this goroutine
//	    if interrupt { unreachable }
//	    fuel = Fuel
//	}
//
// The exit matters as much as the flag. Go cannot preempt a goroutine while
// it runs compiled WASM, so without any exit a guest stuck in a loop would
// hold up every stop-the-world phase of the garbage collector, and with it
// the whole process, including the goroutine that is meant to set the flag.
// Every Fuel iterations the guest passes through Go (growing memory by zero
// pages changes nothing), so a collection waits at most that long, and a set
// interrupt is seen there.
//
// A guest cannot run forever without iterating a loop (recursion ends in a
// stack overflow trap; tail calls, the one other way, are not enabled by the
// host), so a guest traps within Fuel loop iterations of the host setting
// the flag; the host then discards the instance, as after any trap.
//
// Only what the checks need is decoded: section boundaries, the import and
// memory sections (to count globals and find a memory), and each function
// body's instructions, walked to find loops. Anything Instrument does not
// know, an opcode from a proposal it has not been taught, say, is an error,
// never a guess: the host then falls back to wazero's own termination checks.
package interrupt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Export is the name under which the interrupt global is exported.
const Export = "sluice.interrupt"

// StartExport is the name under which a module's start function is
// exported instead. The format runs a start function inside instantiation,
// before the host can reach the interrupt global, so a start function that
// never returned could not be stopped; the host calls this export right
// after instantiation instead, which is what the start section would have
// done, but stoppable.
const StartExport = "sluice.start"

// Section IDs (WebAssembly core specification, section 5.5.2, binary
// format: sections; plus the exception-handling proposal's tag section).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionOrder ranks the non-custom sections in the order the binary
// format requires them (the tag section sits between memory and global).
var sectionOrder = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

// Fuel is the number of loop iterations between two passes through Go.
// At a few nanoseconds per iteration that is well under a millisecond: the
// most a garbage collection waits for a spinning guest, and the most a stop
// waits after the deadline.
const Fuel = 1 << 14

// check is the sequence inserted at the top of every loop body.
func check(interrupt, fuel uint32) []byte {
	get := func(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x23), uint64(g)) }
	set := func(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x24), uint64(g)) }
	b := get(nil, fuel)
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1, i32.sub
	b = set(b, fuel)
	b = get(b, fuel)
	b = append(b, 0x45, 0x04, 0x40)       // i32.eqz, if
	b = append(b, 0x41, 0x00, 0x40, 0x00) // i32.const 0, memory.grow 0
	b = append(b, 0x1a)                   // drop
	b = get(b, interrupt)
	b = append(b, 0x04, 0x40, 0x00, 0x0b) // if, unreachable, end
	b = appendSLEB(append(b, 0x41), Fuel) // i32.const Fuel
	b = set(b, fuel)
	return append(b, 0x0b) // end
}

// appendSLEB appends v as a signed LEB128.
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Stats says what Instrument did.
type Stats struct {
	Functions int    // function bodies walked
	Loops     int    // checks inserted
	Global    uint32 // index of the interrupt global; the fuel global follows it
	// HasStart says the module had a start section; Start is its function,
	// now exported as StartExport.
	HasStart bool
	Start    uint32
}

// Instrument returns code with the interrupt global and a check at the top
// of every loop. code must be a valid module; an error means it could not
// be instrumented (malformed, or uses an encoding this package does not
// decode) and the caller should run it unmodified with another way to stop
// it.
func Instrument(code []byte) ([]byte, Stats, error) {
	var st Stats
	if len(code) < 8 || !bytes.Equal(code[:4], []byte("\x00asm")) {
		return nil, st, errors.New("not a WebAssembly module")
	}
	if v := binary.LittleEndian.Uint32(code[4:8]); v != 1 {
		return nil, st, fmt.Errorf("binary format version %d, want 1", v)
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	for r := (reader{b: code, off: 8}); r.off < len(r.b); {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, st, fmt.Errorf("section at byte %d: %w", r.off, r.err)
		}
		if id != secCustom {
			if _, ok := sectionOrder[id]; !ok {
				return nil, st, fmt.Errorf("unknown section id %d", id)
			}
		}
		secs = append(secs, section{id, body})
	}

	// The new globals' indexes follow every imported and defined global.
	var importedGlobals, definedGlobals, memories uint32
	for _, s := range secs {
		switch s.id {
		case secImport:
			g, m, err := countImports(s.body)
			if err != nil {
				return nil, st, fmt.Errorf("import section: %w", err)
			}
			importedGlobals = g
			memories += m
		case secMemory:
			r := reader{b: s.body}
			memories += r.u32()
			if r.err != nil {
				return nil, st, fmt.Errorf("memory section: %w", r.err)
			}
		case secGlobal:
			r := reader{b: s.body}
			definedGlobals = r.u32()
			if r.err != nil {
				return nil, st, fmt.Errorf("global section: %w", r.err)
			}
		case secExport:
			if err := checkExportFree(s.body); err != nil {
				return nil, st, err
			}
		case secStart:
			r := reader{b: s.body}
			st.Start, st.HasStart = r.u32(), true
			if r.err != nil {
				return nil, st, fmt.Errorf("start section: %w", r.err)
			}
		}
	}
	if memories == 0 {
		// The pass through Go is memory.grow, which needs a memory.
		return nil, st, errors.New("module has no memory")
	}
	st.Global = importedGlobals + definedGlobals
	newGlobals := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // interrupt: mut i32 = 0
	newGlobals = append(newGlobals, 0x7f, 0x01, 0x41)  // fuel: mut i32 = Fuel
	newGlobals = append(appendSLEB(newGlobals, Fuel), 0x0b)
	export := appendName(nil, Export)
	export = append(export, 0x03) // global
	export = binary.AppendUvarint(export, uint64(st.Global))
	exports := uint32(1)
	if st.HasStart {
		export = appendName(export, StartExport)
		export = append(export, 0x00) // function
		export = binary.AppendUvarint(export, uint64(st.Start))
		exports++
	}

	out := append(make([]byte, 0, len(code)+len(code)/8), code[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	haveGlobal, haveExport := false, false
	for _, s := range secs {
		// A module without a global or export section gets one where the
		// format's order puts it.
		if rank, ok := sectionOrder[s.id]; ok {
			if !haveGlobal && rank > sectionOrder[secGlobal] {
				emit(secGlobal, appendVec(nil, 2, newGlobals))
				haveGlobal = true
			}
			if !haveExport && rank > sectionOrder[secExport] {
				emit(secExport, appendVec(nil, exports, export))
				haveExport = true
			}
		}
		switch s.id {
		case secGlobal:
			body, err := extendVec(s.body, 2, newGlobals)
			if err != nil {
				return nil, st, fmt.Errorf("global section: %w", err)
			}
			emit(secGlobal, body)
			haveGlobal = true
		case secExport:
			body, err := extendVec(s.body, exports, export)
			if err != nil {
				return nil, st, fmt.Errorf("export section: %w", err)
			}
			emit(secExport, body)
			haveExport = true
		case secStart:
			// Exported as StartExport instead (see there).
			continue
		case secCode:
			body, err := instrumentCode(s.body, check(st.Global, st.Global+1), &st)
			if err != nil {
				return nil, st, fmt.Errorf("code section: %w", err)
			}
			emit(secCode, body)
		case secCustom:
			// DWARF addresses code by byte offset, which the checks move:
			// stale debug info would misattribute traps, so it goes.
			r := reader{b: s.body}
			name := r.name()
			if r.err == nil && strings.HasPrefix(name, ".debug_") {
				continue
			}
			emit(s.id, s.body)
		default:
			emit(s.id, s.body)
		}
	}
	if !haveGlobal {
		emit(secGlobal, appendVec(nil, 2, newGlobals))
	}
	if !haveExport {
		emit(secExport, appendVec(nil, exports, export))
	}
	return out, st, nil
}

// appendVec appends a vector of count entries whose encodings are entries.
func appendVec(b []byte, count uint32, entries []byte) []byte {
	b = binary.AppendUvarint(b, uint64(count))
	return append(b, entries...)
}

// extendVec appends count entries, encoded as entry, to an encoded vector.
func extendVec(vec []byte, count uint32, entry []byte) ([]byte, error) {
	r := reader{b: vec}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	b := appendVec(make([]byte, 0, len(vec)+len(entry)+5), n+count, vec[r.off:])
	return append(b, entry...), nil
}

func appendName(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// countImports counts the imported globals and memories.
func countImports(body []byte) (globals, memories uint32, err error) {
	r := reader{b: body}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name() // module
		r.name() // field
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.valType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			memories++
		case 0x03: // global: value type, mutability
			r.valType()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("import %d: unknown kind %#x", i, kind)
		}
	}
	return globals, memories, r.err
}

func checkExportFree(body []byte) error {
	r := reader{b: body}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if name := r.name(); name == Export || name == StartExport {
			return fmt.Errorf("module already exports %q", name)
		}
		r.byte()
		r.u32()
	}
	if r.err != nil {
		return fmt.Errorf("export section: %w", r.err)
	}
	return nil
}

// instrumentCode rewrites the code section: every function body with a
// check after each loop's block type, each body's size re-encoded.
func instrumentCode(sec, chk []byte, st *Stats) ([]byte, error) {
	r := reader{b: sec}
	n := r.u32()
	out := binary.AppendUvarint(make([]byte, 0, len(sec)+len(sec)/8), uint64(n))
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		fn := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function %d: %w", i, r.err)
		}
		var loops int
		var err error
		body, loops, err = instrumentBody(body[:0], fn, chk)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		st.Functions++
		st.Loops += loops
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if r.off != len(r.b) {
		return nil, fmt.Errorf("%d bytes after the last function", len(r.b)-r.off)
	}
	return out, nil
}

// instrumentBody copies one function body (locals, then its expression)
// to dst, inserting chk after every loop instruction's block type.
func instrumentBody(dst, fn, chk []byte) ([]byte, int, error) {
	r := reader{b: fn}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32() // count
		r.valType()
	}
	if r.err != nil {
		return nil, 0, fmt.Errorf("locals: %w", r.err)
	}
	loops := 0
	copied := 0
	depth := 1 // the function's own block
	for depth > 0 {
		if r.off >= len(r.b) {
			return nil, 0, errors.New("body ends before its final end")
		}
		at := r.off
		op := r.byte()
		switch op {
		case 0x02, 0x04: // block, if
			r.blockType()
			depth++
		case 0x03: // loop
			r.blockType()
			depth++
			if r.err == nil {
				dst = append(dst, fn[copied:r.off]...)
				dst = append(dst, chk...)
				copied = r.off
				loops++
			}
		case 0x06: // try (legacy exception handling)
			r.blockType()
			depth++
		case 0x1f: // try_table
			r.blockType()
			depth++
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					r.u32()
				default:
					return nil, 0, fmt.Errorf("try_table at %d: unknown catch kind %#x", at, kind)
				}
			}
		case 0x0b: // end
			depth--
		case 0x18: // delegate ends a try
			r.u32()
			depth--
		case 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd3, 0xd5:
			// unreachable nop else throw_ref return catch_all drop select
			// ref.is_null ref.as_non_null ref.eq: no immediates
		case 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0xd2, 0xd4, 0xd6,
			0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26:
			// catch throw rethrow br br_if call return_call call_ref
			// return_call_ref ref.func br_on_null br_on_non_null,
			// local.* global.* table.get/set: one index
			r.u32()
		case 0x0e: // br_table: labels, default
			n := r.u32()
			for i := uint32(0); i <= n && r.err == nil; i++ {
				r.u32()
			}
		case 0x11, 0x13: // call_indirect, return_call_indirect: type, table
			r.u32()
			r.u32()
		case 0x1c: // select with types
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.valType()
			}
		case 0x3f, 0x40: // memory.size, memory.grow: memory index
			r.u32()
		case 0x41:
			r.sleb(32)
		case 0x42:
			r.sleb(64)
		case 0x43:
			r.bytes(4)
		case 0x44:
			r.bytes(8)
		case 0xd0: // ref.null: heap type
			r.heapType()
		case 0xfc:
			r.prefixedFC(at)
		case 0xfd:
			r.prefixedFD(at)
		case 0xfe:
			r.prefixedFE(at)
		default:
			switch {
			case op >= 0x28 && op <= 0x3e: // loads and stores
				r.memArg()
			case op >= 0x45 && op <= 0xc4: // numeric, no immediates
			default:
				return nil, 0, fmt.Errorf("unknown opcode %#x at byte %d", op, at)
			}
		}
		if r.err != nil {
			return nil, 0, fmt.Errorf("instruction %#x at byte %d: %w", op, at, r.err)
		}
	}
	if r.off != len(r.b) {
		return nil, 0, fmt.Errorf("%d bytes after the body's final end", len(r.b)-r.off)
	}
	return append(dst, fn[copied:]...), loops, nil
}

// reader decodes the binary format; the first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("unexpected end of input")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail(errShort)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits {
			r.fail(errors.New("LEB128 too long"))
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

// sleb skips a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits uint) {
	r.uleb(bits)
}

func (r *reader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

// valType reads a value type: a number, vector or reference type. Typed
// references of the GC proposal (0x63/0x64 + heap type) are decoded too.
func (r *reader) valType() {
	switch c := r.byte(); c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69: // i32 i64 f32 f64 v128 funcref externref exnref
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.heapType()
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unknown value type %#x", c))
		}
	}
}

// heapType reads an abstract heap type byte or a type index (s33).
func (r *reader) heapType() {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(errShort)
		return
	}
	if c := r.b[r.off]; c >= 0x40 && c < 0x80 {
		r.off++ // abstract heap types are single negative s33 bytes
		return
	}
	r.sleb(33)
}

// blockType reads a block type: empty (0x40), a value type, or a type index
// (s33).
func (r *reader) blockType() {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(errShort)
		return
	}
	switch c := r.b[r.off]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		r.off++
	case 0x63, 0x64:
		r.valType()
	default:
		r.sleb(33)
	}
}

func (r *reader) limits() {
	flags := r.byte()
	if flags > 0x07 {
		r.fail(fmt.Errorf("unknown limits flags %#x", flags))
		return
	}
	bits := uint(32)
	if flags&0x04 != 0 { // memory64
		bits = 64
	}
	r.uleb(bits)
	if flags&0x01 != 0 {
		r.uleb(bits)
	}
}

// memArg reads alignment (bit 6 set: a memory index follows, multi-memory)
// and offset.
func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.u32()
	}
	r.uleb(64)
}

func (r *reader) prefixedFC(at int) {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init: data, memory
		r.u32()
		r.u32()
	case sub == 9, sub == 13, sub == 15, sub == 16, sub == 17: // data.drop elem.drop table.grow/size/fill
		r.u32()
	case sub == 10, sub == 12, sub == 14: // memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 11: // memory.fill
		r.u32()
	default:
		r.fail(fmt.Errorf("unknown 0xfc opcode %d at byte %d", sub, at))
	}
}

func (r *reader) prefixedFD(at int) {
	switch sub := r.u32(); {
	case sub <= 11, sub == 92, sub == 93: // v128 loads and stores
		r.memArg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load/store lane
		r.memArg()
		r.byte()
	case sub <= 0x113: // every other SIMD and relaxed-SIMD instruction: no immediates
	default:
		r.fail(fmt.Errorf("unknown 0xfd opcode %d at byte %d", sub, at))
	}
}

func (r *reader) prefixedFE(at int) {
	switch sub := r.u32(); {
	case sub == 0x03: // atomic.fence
		r.byte()
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e:
		r.memArg()
	default:
		r.fail(fmt.Errorf("unknown 0xfe opcode %d at byte %d", sub, at))
	}
}
