;; upper.wat — a Sluice WASM function written by hand, with no language
;; runtime, to show the ABI (docs/wasm-abi.md, version 1) is language-neutral.
;;
;; It accepts binary Kinesis batches and returns one output record per input
;; record: the data with ASCII letters upper-cased and the partition key
;; under "pk" — the same response the Go test function (../kfn) gives.
;; Payloads that ask for a fault: "trap" (unreachable), "spin" (infinite
;; loop), "naps" (a 60-second sleep in WASI poll_oneoff), "bomb" (grow memory
;; until refused, then trap), "fail" (a returned error), "note" (a sluice.log
;; line).
;;
;; Build: wat2wasm upper.wat -o upper.wasm   (Debian package wabt)
(module
  (import "sluice" "log" (func $log (param i32 i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; The heap starts after the static data; it is reset on every
  ;; sluice_alloc, because a request is allocated right before the call that
  ;; consumes it and a response is only valid until the next call.
  (global $base i32 (i32.const 4096))
  (global $heap (mut i32) (i32.const 4096))

  (data (i32.const 64) "{\"errorMessage\":\"asked to fail\",\"errorType\":\"errorString\"}")
  (data (i32.const 192) "{\"errorMessage\":\"upper takes Kinesis events only\",\"errorType\":\"Runtime.Unsupported\"}")

  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_features") (result i32) (i32.const 1))
  (func (export "sluice_free") (param i32))

  ;; ensure grows memory so that [0, end) is addressable; traps if refused.
  (func $ensure (param $end i32)
    (local $have i32)
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.div_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 65536)))
              (i32.const -1))
          (then unreachable)))))

  (func (export "sluice_alloc") (param $size i32) (result i32)
    (global.set $heap (i32.add (global.get $base) (local.get $size)))
    (call $ensure (global.get $heap))
    (global.get $base))

  ;; skip a u32-length-prefixed string at p; returns the position after it.
  (func $skip (param $p i32) (result i32)
    (i32.add (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p))))

  ;; write a u32 at p; returns p+4.
  (func $u32 (param $p i32) (param $v i32) (result i32)
    (i32.store (local.get $p) (local.get $v))
    (i32.add (local.get $p) (i32.const 4)))

  ;; respond with a tag-2 error document of n bytes at src.
  (func $error (param $out i32) (param $src i32) (param $n i32) (result i64)
    (i32.store8 (local.get $out) (i32.const 2))
    (memory.copy (i32.add (local.get $out) (i32.const 1)) (local.get $src) (local.get $n))
    (call $pack (local.get $out) (i32.add (local.get $n) (i32.const 1))))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))

  (func (export "sluice_invoke") (param $req i32) (param $len i32) (result i64)
    (local $p i32) (local $out i32) (local $w i32) (local $count i32) (local $i i32)
    (local $pk i32) (local $pklen i32) (local $data i32) (local $dlen i32) (local $j i32) (local $c i32) (local $word i32)
    (local.set $out (global.get $heap))
    ;; Room for the worst case: every record's data and key echoed plus
    ;; 16 bytes of framing per record, bounded by twice the request.
    (call $ensure (i32.add (local.get $out) (i32.add (i32.mul (local.get $len) (i32.const 3)) (i32.const 64))))
    ;; header: kind, requestID, functionARN, deadline
    (if (i32.ne (i32.load8_u (local.get $req)) (i32.const 1))
      (then (return (call $error (local.get $out) (i32.const 192) (i32.const 84)))))
    (local.set $p (call $skip (i32.add (local.get $req) (i32.const 1))))
    (local.set $p (i32.add (call $skip (local.get $p)) (i32.const 8)))
    ;; batch: count and 8 shared strings
    (local.set $count (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (if (i32.gt_u (local.get $count) (i32.const 0))
      (then
        (local.set $i (i32.const 0))
        (loop $shared
          (local.set $p (call $skip (local.get $p)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $shared (i32.lt_u (local.get $i) (i32.const 8))))))
    ;; response: tag 1, nil failures, record count
    (i32.store8 (local.get $out) (i32.const 1))
    (local.set $w (call $u32 (i32.add (local.get $out) (i32.const 1)) (i32.const -1)))
    (local.set $w (call $u32 (local.get $w) (local.get $count)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $records
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (call $skip (local.get $p)))                   ;; eventID
        (local.set $pklen (i32.load (local.get $p)))
        (local.set $pk (i32.add (local.get $p) (i32.const 4)))
        (local.set $p (call $skip (local.get $p)))                   ;; partitionKey
        (local.set $p (i32.add (call $skip (local.get $p)) (i32.const 8))) ;; sequenceNumber, arrival
        (local.set $dlen (i32.load (local.get $p)))
        (local.set $data (i32.add (local.get $p) (i32.const 4)))
        (if (i32.eq (local.get $dlen) (i32.const -1)) (then (local.set $dlen (i32.const 0))))
        (local.set $p (i32.add (local.get $data) (local.get $dlen)))
        (if (i32.eq (local.get $dlen) (i32.const 4))
          (then
            (local.set $word (i32.load (local.get $data)))
            (if (i32.eq (local.get $word) (i32.const 0x70617274)) (then unreachable))           ;; "trap"
            (if (i32.eq (local.get $word) (i32.const 0x6e697073)) (then (loop $spin (br $spin)))) ;; "spin"
            (if (i32.eq (local.get $word) (i32.const 0x7370616e))                              ;; "naps"
              (then
                ;; one relative clock subscription of 60 s at 1024, its event at 1088
                (i64.store (i32.const 1024) (i64.const 0))
                (i32.store8 (i32.const 1032) (i32.const 0))
                (i32.store (i32.const 1040) (i32.const 1))
                (i64.store (i32.const 1048) (i64.const 60000000000))
                (i64.store (i32.const 1056) (i64.const 0))
                (i32.store16 (i32.const 1064) (i32.const 0))
                (drop (call $poll (i32.const 1024) (i32.const 1088) (i32.const 1) (i32.const 1120)))))
            (if (i32.eq (local.get $word) (i32.const 0x626d6f62))                              ;; "bomb"
              (then (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable))
            (if (i32.eq (local.get $word) (i32.const 0x6c696166))                              ;; "fail"
              (then (return (call $error (local.get $out) (i32.const 64) (i32.const 58)))))
            (if (i32.eq (local.get $word) (i32.const 0x65746f6e))                              ;; "note"
              (then (call $log (local.get $pk) (local.get $pklen))))))
        ;; data, upper-cased
        (local.set $w (call $u32 (local.get $w) (local.get $dlen)))
        (local.set $j (i32.const 0))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $j) (local.get $dlen)))
            (local.set $c (i32.load8_u (i32.add (local.get $data) (local.get $j))))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
              (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
            (i32.store8 (i32.add (local.get $w) (local.get $j)) (local.get $c))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $copy)))
        (local.set $w (i32.add (local.get $w) (local.get $dlen)))
        ;; one partition key: "pk" → the record's partition key
        (local.set $w (call $u32 (local.get $w) (i32.const 1)))
        (local.set $w (call $u32 (local.get $w) (i32.const 2)))
        (i32.store16 (local.get $w) (i32.const 0x6b70))            ;; "pk"
        (local.set $w (call $u32 (i32.add (local.get $w) (i32.const 2)) (local.get $pklen)))
        (memory.copy (local.get $w) (local.get $pk) (local.get $pklen))
        (local.set $w (i32.add (local.get $w) (local.get $pklen)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $records)))
    (call $pack (local.get $out) (i32.sub (local.get $w) (local.get $out))))
)
