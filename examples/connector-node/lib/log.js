'use strict';

// Logs for the hub: one JSON object per line on stderr, with hclog's keys
// (@level, @message, @timestamp), so that go-plugin files each line under
// the connector's name at the right level. stdout carries the handshake
// line and nothing else. Never log personal data: name entries by their
// position in the registry, never by a value they hold.

const util = require('node:util');

// hclog's timestamp layout has microseconds: 2006-01-02T15:04:05.000000Z07:00.
function timestamp(d = new Date()) {
  return d.toISOString().replace(/Z$/, '000Z');
}

function write(level, message, fields) {
  const entry = { '@level': level, '@message': message, '@timestamp': timestamp() };
  for (const [k, v] of Object.entries(fields || {})) {
    if (!k.startsWith('@')) entry[k] = v instanceof Error ? v.message : v;
  }
  process.stderr.write(JSON.stringify(entry) + '\n');
}

const log = {
  trace: (msg, fields) => write('trace', msg, fields),
  debug: (msg, fields) => write('debug', msg, fields),
  info: (msg, fields) => write('info', msg, fields),
  warn: (msg, fields) => write('warn', msg, fields),
  error: (msg, fields) => write('error', msg, fields),
};

// keepStdoutClean sends whatever a dependency prints with console.* to the
// log on stderr: a stray line on stdout would break the handshake.
function keepStdoutClean() {
  const to = (level) => (...args) => write(level, util.format(...args));
  console.log = to('info');
  console.info = to('info');
  console.debug = to('debug');
  console.trace = to('trace');
  console.warn = to('warn');
  console.error = to('error');
}

module.exports = { log, keepStdoutClean, timestamp };
