;; loops.wat — a module that exercises what interrupt.Instrument must walk
;; past to find loops: imported and defined globals (the new global's index
;; follows them), typed blocks, br_table, call_indirect, SIMD immediates
;; (v128.const, shuffles, lanes), bulk memory, select with types, references.
;;
;; Build: wat2wasm loops.wat -o loops.wasm   (Debian package wabt)
(module
  (type $binop (func (param i32 i32) (result i32)))
  (import "env" "base" (global $base i32))
  (memory (export "memory") 1)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (global $big (mut i64) (i64.const 0x7fffffffffffffff))
  (table 2 funcref)
  (elem (i32.const 0) $add $sub)
  (data (i32.const 16) "\03\00\00\00")

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))

  ;; spin never returns: only an interrupt stops it.
  (func (export "spin")
    (loop $forever
      (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
      (br $forever)))

  ;; sum returns base + 0 + 1 + ... + (n-1), through call_indirect.
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (local.set $acc (global.get $base))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (call_indirect (type $binop) (local.get $acc) (local.get $i) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; typed loops: a loop that takes and returns its value on the stack
  ;; (multi-value block type by type index) counting down to zero.
  (func (export "countdown") (param $n i32) (result i32)
    (local.get $n)
    (loop $again (param i32) (result i32)
      (i32.sub (i32.const 1))
      (local.tee $n)
      (br_if $again (i32.gt_s (local.get $n) (i32.const 0)))))

  ;; classify uses br_table inside a loop and select with a type.
  (func (export "classify") (param $x i32) (result i32)
    (local $r i32) (local $k i32)
    (loop $l
      (block $c2 (block $c1 (block $c0
        (br_table $c0 $c1 $c2 (local.get $x)))
        (local.set $r (i32.add (local.get $r) (i32.const 1))))
        (local.set $r (i32.add (local.get $r) (i32.const 10))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 2))))
    (select (result i32) (local.get $r) (i32.const -1) (i32.ge_s (local.get $x) (i32.const 0))))

  ;; vectors: immediates of 16 bytes and lane indexes, in a loop.
  (func (export "lanes") (result i32)
    (local $v v128) (local $i i32)
    (local.set $v (v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16))
    (loop $rot
      (local.set $v (i8x16.shuffle 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 0 (local.get $v) (local.get $v)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rot (i32.lt_u (local.get $i) (i32.const 3))))
    (i32.add
      (i8x16.extract_lane_u 0 (local.get $v))
      (i32.wrap_i64 (i64x2.extract_lane 1 (v128.load offset=0 align=1 (i32.const 0))))))

  ;; bulk memory and references.
  (func (export "fill") (result i32)
    (memory.fill (i32.const 100) (i32.const 7) (i32.const 8))
    (memory.copy (i32.const 200) (i32.const 100) (i32.const 8))
    (drop (ref.is_null (ref.null func)))
    (drop (ref.func $add))
    (i32.add (i32.load8_u (i32.const 207)) (i32.wrap_i64 (i64.shr_u (global.get $big) (i64.const 62))))))
