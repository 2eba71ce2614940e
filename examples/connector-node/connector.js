#!/usr/bin/env node
'use strict';

// A Snodo connector written in Node.js: it reads a third-sector partner's
// volunteer registry into the shared volunteer schema and speaks the
// connector protocol (plugins/proto/snodo/connector/v1) through
// hashicorp/go-plugin's handshake. The hub starts it; to try it:
//
//   snodo connectors test examples/connector-node/connector.js \
//     --settings examples/connector-node/settings.example.json

const path = require('node:path');
const { log, keepStdoutClean } = require('./lib/log');
const { serve, StartupError } = require('./lib/serve');
const { handlers } = require('./lib/service');

// The one definition of the protocol: the Snodo repository's own.
const PROTOCOL_DIR = path.join(__dirname, '..', '..', 'plugins', 'proto');

keepStdoutClean();
process.on('uncaughtException', (err) => {
  log.error('connector crashed', { error: err && err.stack });
  process.exit(1);
});

serve(handlers, { protocolDir: PROTOCOL_DIR }).catch((err) => {
  if (err instanceof StartupError) {
    process.stderr.write(`snodo connector volunteer-registry: ${err.message}\n`);
  } else {
    log.error('connector failed to start', { error: err && err.stack });
  }
  process.exit(1);
});
