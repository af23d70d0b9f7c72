// Rewrites kinesalite's test/helpers.js so the suite talks to a running
// `sluice up` instead of starting kinesalite in process. Everything outside
// the server start/stop section is left as kinesalite wrote it.
//
//   node patch-helpers.js path/to/helpers.js
'use strict'
var fs = require('fs')

var file = process.argv[2]
var src = fs.readFileSync(file, 'utf8')

function cut(text, from, to, replacement) {
  var i = text.indexOf(from)
  var j = text.indexOf(to, i)
  if (i < 0 || j < 0) {
    console.error('patch-helpers: cannot find "' + from + '" … "' + to + '" in ' + file +
      ' (is this kinesalite 3.3.x\'s test/helpers.js?)')
    process.exit(1)
  }
  return text.slice(0, i) + replacement + text.slice(j)
}

// 1. No in-process server: drop the require of kinesalite itself.
src = cut(src, "    kinesalite = require('..')", '\n', "    sluiceSuite = true")

// 2. Replace the section that picks a random port, starts the in-process
//    server before the tests and closes it after, by one that points every
//    request at the Sluice instance run.sh started.
src = cut(src, 'var port = ', 'function request(', [
  '// Sluice: run.sh started `sluice up --limits=off`; every request goes to it.',
  'var requestOpts = {',
  "  host: '127.0.0.1',",
  '  port: Number(process.env.SLUICE_SUITE_PORT || 4567),',
  "  method: 'POST',",
  '}',
  '',
  'before(function(done) {',
  '  this.timeout(200000)',
  '  async.parallel([resolveAccountId, resolveShardLimit, createTestStreams], done)',
  '})',
  '',
  'after(function(done) {',
  '  this.timeout(200000)',
  '  deleteTestStreams(done)',
  '})',
  '',
  '',
].join('\n'))

fs.writeFileSync(file, src)
