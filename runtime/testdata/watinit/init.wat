;; init.wat — a hand-written Sluice WASM function (docs/wasm-abi.md,
;; version 1) whose init misbehaves on request, for the init-phase tests:
;; the environment variable INIT selects what it does before it serves.
;;
;;   INIT=spin   sluice_main (main()) loops forever
;;   INIT=naps   sluice_main sleeps 60 s in WASI poll_oneoff
;;   INIT=Start  the module's start function loops forever: it runs inside
;;               instantiation, before the host can reach the interrupt
;;               global, unless the instrumenter moved it to an export
;;
;; Otherwise it starts at once and answers every request with an empty
;; stream response. Hand-written, it compiles in milliseconds even under
;; the race detector, so both stop modes run in every build.
;;
;; Build: wat2wasm init.wat -o init.wasm   (Debian package wabt)
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; tag 1 (stream), failures 0xFFFFFFFF (null), 0 records
  (data (i32.const 16) "\01\ff\ff\ff\ff\00\00\00\00")

  ;; mode returns the byte after "INIT=" in the environment, 0 if unset.
  ;; Pointers go to 1024, strings to 8192 (room for ~56 KiB of them).
  (func $mode (result i32)
    (local $i i32)
    (local $end i32)
    (drop (call $env_sizes (i32.const 0) (i32.const 4)))
    (if (i32.gt_u (i32.load (i32.const 4)) (i32.const 57000)) (then (return (i32.const 0))))
    (drop (call $env_get (i32.const 1024) (i32.const 8192)))
    (local.set $end (i32.add (i32.const 8192) (i32.load (i32.const 4))))
    (local.set $i (i32.const 8192))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (i32.add (local.get $i) (i32.const 5)) (local.get $end)))
        (if (i32.and
              (i32.eq (i32.load (local.get $i)) (i32.const 0x54494e49))        ;; "INIT"
              (i32.eq (i32.load8_u offset=4 (local.get $i)) (i32.const 61)))  ;; "="
          (then (return (i32.load8_u offset=5 (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  (func $start
    (if (i32.eq (call $mode) (i32.const 83)) ;; "S"
      (then (loop $spin (br $spin)))))
  (start $start)

  (func (export "sluice_main")
    (local $m i32)
    (local.set $m (call $mode))
    (if (i32.eq (local.get $m) (i32.const 115)) ;; "s"
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $m) (i32.const 110)) ;; "n"
      (then
        ;; one relative clock subscription of 60 s at 256, its event at 320
        (i64.store (i32.const 256) (i64.const 0))
        (i32.store8 (i32.const 264) (i32.const 0))
        (i32.store (i32.const 272) (i32.const 1))
        (i64.store (i32.const 280) (i64.const 60000000000))
        (i64.store (i32.const 288) (i64.const 0))
        (i32.store16 (i32.const 296) (i32.const 0))
        (drop (call $poll (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 352))))))

  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_features") (result i32) (i32.const 1))
  (func (export "sluice_free") (param i32))

  ;; Every request goes to 65536 (the second page); memory grows to fit it.
  (func (export "sluice_alloc") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need (i32.sub
      (i32.div_u (i32.add (i32.add (local.get $size) (i32.const 65536)) (i32.const 65535)) (i32.const 65536))
      (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then (if (i32.eq (memory.grow (local.get $need)) (i32.const -1)) (then unreachable))))
    (i32.const 65536))

  (func (export "sluice_invoke") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 9))))
