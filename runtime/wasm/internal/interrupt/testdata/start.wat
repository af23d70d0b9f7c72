;; start.wat — a module with a start function, which the format runs inside
;; instantiation, before the host can reach the interrupt global. Instrument
;; moves it to the export sluice.start, which the host calls once it can
;; stop the guest. The start function counts its runs, which the export
;; "runs" returns.
;;
;; Build: wat2wasm start.wat -o start.wasm   (Debian package wabt)
(module
  (memory 1)
  (global $runs (mut i32) (i32.const 0))
  (func $start
    (global.set $runs (i32.add (global.get $runs) (i32.const 1))))
  (start $start)
  (func $runs (result i32) (global.get $runs))
  (export "runs" (func $runs)))
