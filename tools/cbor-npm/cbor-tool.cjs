// cbor-tool: the independent CBOR codec for Sluice's tests (node-cbor).
//
// stdin:  {"encode": [tree, ...], "decode": ["hex", ...]}
// stdout: {"encoded": ["hex", ...], "decoded": [tree, ...]}
//
// A tree is JSON with three escapes for what JSON cannot say:
//   {"$bytes": "<base64>"}          a CBOR byte string
//   {"$float": 1.5}                 a CBOR float even when integral
//   {"$tag": n, "value": tree}      a tagged item
// Decoding maps byte strings back to {"$bytes"}, Dates (tag 1) to
// {"$tag": 1, "value": epochSeconds}, bigints to {"$bigint": "decimal"}.
'use strict';
const cbor = require('cbor');

function toCbor(x) {
  if (Array.isArray(x)) return x.map(toCbor);
  if (x && typeof x === 'object') {
    if ('$bytes' in x) return Buffer.from(x.$bytes, 'base64');
    if ('$float' in x) return { encodeCBOR(enc) { return enc._pushFloat(x.$float); } };
    if ('$tag' in x) return new cbor.Tagged(x.$tag, toCbor(x.value));
    const o = {};
    for (const k of Object.keys(x)) o[k] = toCbor(x[k]);
    return o;
  }
  return x;
}

function fromCbor(x) {
  if (Buffer.isBuffer(x) || x instanceof Uint8Array) return { $bytes: Buffer.from(x).toString('base64') };
  if (x instanceof Date) return { $tag: 1, value: x.getTime() / 1000 };
  if (typeof x === 'bigint') return { $bigint: x.toString() };
  if (x instanceof cbor.Tagged) return { $tag: x.tag, value: fromCbor(x.value) };
  if (x instanceof Map) {
    const o = {};
    for (const [k, v] of x) o[String(k)] = fromCbor(v);
    return o;
  }
  if (Array.isArray(x)) return x.map(fromCbor);
  if (x && typeof x === 'object') {
    const o = {};
    for (const k of Object.keys(x)) o[k] = fromCbor(x[k]);
    return o;
  }
  return x;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const req = JSON.parse(input || '{}');
  const out = {
    encoded: (req.encode || []).map((t) => cbor.encode(toCbor(t)).toString('hex')),
    decoded: (req.decode || []).map((h) => fromCbor(cbor.decodeFirstSync(Buffer.from(h, 'hex')))),
  };
  process.stdout.write(JSON.stringify(out));
});
