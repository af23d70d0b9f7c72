;; reserved.wat — noop.wat with an export under the name the host reserves
;; for its interrupt global (docs/wasm-abi.md): the host cannot instrument it
;; and falls back to wazero's termination checks, and says so.
;;
;; Build: wat2wasm reserved.wat -o reserved.wasm   (Debian package wabt)
;;
;; noop.wat — the cheapest Sluice WASM function (docs/wasm-abi.md, version 1):
;; it accepts binary Kinesis batches and answers every one with an empty
;; stream response, touching nothing. BenchmarkOverhead calls it to measure
;; what the ABI itself costs per batch — the host's encoding, the copy into
;; linear memory, the call — without any guest runtime's decoding.
;;
;; Build: wat2wasm noop.wat -o noop.wasm   (Debian package wabt)
(module
  (memory (export "memory") 1)
  (global (export "sluice.interrupt") (mut i32) (i32.const 0))
  ;; tag 1 (stream), failures 0xFFFFFFFF (null), 0 records
  (data (i32.const 16) "\01\ff\ff\ff\ff\00\00\00\00")

  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_features") (result i32) (i32.const 1))
  (func (export "sluice_free") (param i32))

  ;; Every request goes to 64; memory grows to fit it.
  (func (export "sluice_alloc") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need (i32.sub
      (i32.div_u (i32.add (i32.add (local.get $size) (i32.const 64)) (i32.const 65535)) (i32.const 65536))
      (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then (if (i32.eq (memory.grow (local.get $need)) (i32.const -1)) (then unreachable))))
    (i32.const 64))

  (func (export "sluice_invoke") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 9))))
