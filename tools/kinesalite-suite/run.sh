#!/usr/bin/env bash
# Runs kinesalite's API test suite against `sluice up --limits=off` and
# prints "N passing, M failing". See README.md.
#
#   tools/kinesalite-suite/run.sh [KINESALITE_TEST_DIR] [-- extra mocha args]
#
# KINESALITE_TEST_DIR (argument or environment variable) is the test/
# directory of a kinesalite checkout (github.com/mhart/kinesalite, v3.3.3).
# The npm package does not ship it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

testdir=${KINESALITE_TEST_DIR:-}
if [[ $# -gt 0 && $1 != -- ]]; then testdir=$1; shift; fi
[[ ${1:-} == -- ]] && shift
if [[ -z $testdir && -d $here/node_modules/kinesalite/test ]]; then
	testdir=$here/node_modules/kinesalite/test
fi
if [[ -z $testdir || ! -f $testdir/helpers.js ]]; then
	echo "run.sh: need kinesalite's test/ directory: run.sh DIR or KINESALITE_TEST_DIR=DIR (see README.md)" >&2
	exit 2
fi

sluice=${SLUICE_BIN:-$root/bin/sluice}
port=${SLUICE_SUITE_PORT:-4567}
export SLUICE_SUITE_PORT=$port
[[ -x $sluice ]] || { echo "run.sh: $sluice not built (go build -o bin/sluice ./cmd/sluice)" >&2; exit 2; }
[[ -d $here/node_modules/mocha ]] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d "${TMPDIR:-/tmp}/kinesalite-suite.XXXXXX")
pid=
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# The suite's files, with helpers.js pointed at Sluice. mergeShards and
# splitShard require('../db') for kinesalite's sequence-number parser: take it
# from the kinesalite npm package (installed here, not committed).
mkdir -p "$work/suite/test" "$work/suite/db"
cp "$testdir"/*.js "$work/suite/test/"
# connection.js tests kinesalite's own HTTP front (signature XML errors, an
# in-process TLS server): not the Kinesis API, so not run (244 tests remain).
rm -f "$work/suite/test/connection.js"
# KINESALITE_SUITE_ONLY="putRecord getRecords" runs only those files.
if [[ -n ${KINESALITE_SUITE_ONLY:-} ]]; then
	for f in "$work/suite/test"/*.js; do
		b=$(basename "$f" .js)
		[[ $b == helpers || " $KINESALITE_SUITE_ONLY " == *" $b "* ]] || rm -f "$f"
	done
fi
node "$here/patch-helpers.js" "$work/suite/test/helpers.js"
echo "module.exports = require('$here/node_modules/kinesalite/db')" > "$work/suite/db/index.js"

# sluice up with an empty state dir and a template holding no stream.
SLUICE_STATE_DIR=$work/state SLUICE_KINESIS_ADDR=127.0.0.1:$port SLUICE_CONTROL_ADDR=127.0.0.1:0 \
	SLUICE_LOG_LEVEL=warn "$sluice" up -t "$here/template.yaml" --limits=off >"$work/sluice.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q '^ready' "$work/sluice.log" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/sluice.log" >&2; exit 1; }
	sleep 0.1
done
grep -q '^ready' "$work/sluice.log" || { echo "run.sh: sluice not ready" >&2; cat "$work/sluice.log" >&2; exit 1; }

out=${KINESALITE_SUITE_OUT:-$root/bin/kinesalite-suite.txt}
mkdir -p "$(dirname "$out")"
set +e
(cd "$work/suite" && NODE_PATH=$here/node_modules "$here/node_modules/.bin/mocha" \
	--require should --reporter spec --timeout 10s "$@" test/*.js) >"$out" 2>&1
set -e
pass=$(grep -Eo '^ +[0-9]+ passing' "$out" | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ +[0-9]+ failing' "$out" | grep -Eo '[0-9]+' || echo 0)
echo "kinesalite suite: $pass passing, $fail failing (mocha's output: $out)"
