// loopback.cjs is preloaded (node --require) into the Kinesis emulators that
// Sluice's tests start. Neither kinesalite's CLI nor kinesis-local can choose
// the address they bind, and both default to every interface; tests must only
// ever listen on the loopback interface, so this rewrites every listen() to
// bind 127.0.0.1. Once a server is listening it says so on stderr
// ("loopback.cjs: listening on 127.0.0.1:PORT"): the tests wait for that
// line, because a port that accepts a connection may belong to another
// process that took it first.
'use strict'
const net = require('net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    // listen({port, host, ...}, cb)
    if (first.path === undefined) args[0] = Object.assign({}, first, { host: '127.0.0.1' })
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string') args[1] = '127.0.0.1'
    else args.splice(1, 0, '127.0.0.1')
  }
  this.once('listening', () => {
    const a = this.address()
    if (a && typeof a === 'object') process.stderr.write(`loopback.cjs: listening on ${a.address}:${a.port}\n`)
  })
  return listen.apply(this, args)
}
