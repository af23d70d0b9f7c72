// loopback.cjs is preloaded (node --require) into the Kinesis emulators that
// Sluice's tests start. Neither kinesalite's CLI nor kinesis-local can choose
// the address they bind, and both default to every interface; tests must only
// ever listen on the loopback interface, so this rewrites every listen() to
// bind 127.0.0.1.
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
  return listen.apply(this, args)
}
