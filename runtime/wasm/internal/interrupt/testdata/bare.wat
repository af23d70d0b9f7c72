;; bare.wat — a module with no global and no export section: Instrument
;; must add both, in the order the binary format requires (before the code
;; section). Its one function loops forever and is never called; the memory
;; is what the instrumentation's pass through Go (memory.grow 0) needs.
;;
;; Build: wat2wasm bare.wat -o bare.wasm   (Debian package wabt)
(module
  (memory 1)
  (func $spin (loop $l (br $l))))
