;; env.wat — exports the global loops.wasm imports.
;;
;; Build: wat2wasm env.wat -o env.wasm   (Debian package wabt)
(module (global (export "base") i32 (i32.const 5)))
