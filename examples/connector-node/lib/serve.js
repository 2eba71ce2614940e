'use strict';

// The hashicorp/go-plugin side of a connector written in Node.js: what the
// Go SDK's sdk.Serve does for a Go connector.
//
// The hub starts the connector with a fixed environment (it passes none of
// its own): the magic cookie, the protocol versions it speaks
// (PLUGIN_PROTOCOL_VERSIONS), a port range (PLUGIN_MIN_PORT,
// PLUGIN_MAX_PORT) and, for mutual TLS, its own client certificate
// (PLUGIN_CLIENT_CERT, PEM). The connector listens on 127.0.0.1, prints one
// line on stdout
//
//   CORE-PROTOCOL|APP-PROTOCOL|tcp|127.0.0.1:PORT|grpc|SERVER-CERT
//
// (the server certificate as unpadded base64 DER) and serves, besides its
// own snodo.connector.v1.Connector, the services go-plugin's host calls:
// grpc.health.v1.Health ("plugin" is SERVING), plugin.GRPCController
// (Shutdown), plugin.GRPCStdio and plugin.GRPCBroker.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { log } = require('./log');
const { selfSignedCert } = require('./cert');

// go-plugin's own protocol version: always 1.
const CORE_PROTOCOL_VERSION = 1;

// HANDSHAKE must equal plugins/internal/wire.Handshake.
const HANDSHAKE = Object.freeze({
  protocolVersion: 1,
  magicCookieKey: 'SNODO_CONNECTOR_PLUGIN',
  magicCookieValue: 'd1b6f6c2-8c8e-4f0f-9d2c-0b6e6c1f3a57',
});

// How long Shutdown waits for calls in flight before closing them.
const SHUTDOWN_GRACE_MS = 2000;

// How often the connector checks that the hub that started it still runs.
const PARENT_POLL_MS = 2000;

const LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

// StartupError stops the connector before the handshake: its message is
// printed on stderr and the process exits 1.
class StartupError extends Error {}

// startupEnv reads and checks what the hub put in the environment.
function startupEnv(env) {
  if (env[HANDSHAKE.magicCookieKey] !== HANDSHAKE.magicCookieValue) {
    throw new StartupError(
      'This program is a Snodo connector: the Snodo hub starts it, it is not run by hand.\n' +
        'To try it, run: snodo connectors test PATH-TO-THIS-SCRIPT --settings SETTINGS.json',
    );
  }
  const offered = (env.PLUGIN_PROTOCOL_VERSIONS || '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!offered.includes(String(HANDSHAKE.protocolVersion))) {
    const what = offered.length ? `version(s) ${offered.join(', ')}` : 'no version (PLUGIN_PROTOCOL_VERSIONS is not set)';
    throw new StartupError(
      `The hub speaks connector protocol ${what}; this connector speaks version ${HANDSHAKE.protocolVersion}. ` +
        'Use a hub and a connector that share a protocol version (upgrade the older one).',
    );
  }
  return { ports: portRange(env), clientCert: env.PLUGIN_CLIENT_CERT || '' };
}

// portRange returns {min, max}, or null for any free port.
function portRange(env) {
  const raw = { min: env.PLUGIN_MIN_PORT || '', max: env.PLUGIN_MAX_PORT || '' };
  if (raw.min === '' && raw.max === '') return null;
  const r = {};
  for (const k of ['min', 'max']) {
    const v = raw[k] === '' ? 0 : Number(raw[k]);
    if (!Number.isInteger(v) || v < 0 || v > 65535) {
      throw new StartupError(`PLUGIN_${k.toUpperCase()}_PORT is "${raw[k]}": it must be a port number (0-65535).`);
    }
    r[k] = v;
  }
  if (r.min > r.max) {
    throw new StartupError(`PLUGIN_MIN_PORT (${r.min}) is greater than PLUGIN_MAX_PORT (${r.max}).`);
  }
  return r.min === 0 && r.max === 0 ? null : r;
}

// credentials returns the server credentials and the handshake's sixth
// field: mutual TLS when the hub sent its certificate.
function credentials(clientCertPem) {
  if (!clientCertPem) {
    log.warn('PLUGIN_CLIENT_CERT is not set: serving without TLS (the Snodo hub always sets it)');
    return { creds: grpc.ServerCredentials.createInsecure(), handshakeCert: '' };
  }
  try {
    new crypto.X509Certificate(clientCertPem);
  } catch {
    throw new StartupError('PLUGIN_CLIENT_CERT is not a PEM certificate: the hub must send its own certificate for mutual TLS.');
  }
  const own = selfSignedCert();
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(clientCertPem),
    [{ private_key: Buffer.from(own.keyPem), cert_chain: Buffer.from(own.certPem) }],
    true, // require a client certificate and verify it against the hub's
  );
  return { creds, handshakeCert: own.handshakeCert };
}

function bind(server, address, creds) {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

// listen binds 127.0.0.1 on a port of the range (any free port without
// one), starting at a random port of the range so that connectors started
// together do not race for the same one.
async function listen(server, creds, range) {
  if (!range) return bind(server, '127.0.0.1:0', creds);
  const size = range.max - range.min + 1;
  const first = crypto.randomInt(size);
  let lastErr;
  for (let i = 0; i < size; i++) {
    const port = range.min + ((first + i) % size);
    try {
      return await bind(server, `127.0.0.1:${port}`, creds);
    } catch (err) {
      lastErr = err;
    }
  }
  throw new StartupError(
    `No free port on 127.0.0.1 between ${range.min} and ${range.max} (PLUGIN_MIN_PORT..PLUGIN_MAX_PORT): ${lastErr && lastErr.message}`,
  );
}

// loadServices loads the connector protocol from the repository's own
// definition and the go-plugin services from this folder's proto/.
function loadServices(protocolDir) {
  const connectorProto = path.join(protocolDir, 'snodo', 'connector', 'v1', 'connector.proto');
  if (!fs.existsSync(connectorProto)) {
    throw new StartupError(
      `The connector protocol definition is missing: ${connectorProto}. ` +
        'This connector loads it from the Snodo repository it lives in (plugins/proto): run it from there.',
    );
  }
  const ownDir = path.join(__dirname, '..', 'proto');
  const def = protoLoader.loadSync(
    ['snodo/connector/v1/connector.proto', 'grpc/health/v1/health.proto', 'plugin/go_plugin.proto'],
    { ...LOADER_OPTIONS, includeDirs: [protocolDir, ownDir] },
  );
  const pkg = grpc.loadPackageDefinition(def);
  return {
    connector: pkg.snodo.connector.v1.Connector.service,
    health: pkg.grpc.health.v1.Health.service,
    controller: pkg.plugin.GRPCController.service,
    stdio: pkg.plugin.GRPCStdio.service,
    broker: pkg.plugin.GRPCBroker.service,
  };
}

// serve runs the connector: handlers implements
// snodo.connector.v1.Connector (Describe, Check, Read, Write) with
// @grpc/grpc-js handler signatures. It resolves once the handshake line is
// out; the process exits when the hub calls Shutdown or sends SIGTERM.
async function serve(handlers, { protocolDir, env = process.env } = {}) {
  const hub = process.ppid;
  const { ports, clientCert } = startupEnv(env);
  const services = loadServices(protocolDir);
  const { creds, handshakeCert } = credentials(clientCert);

  const server = new grpc.Server();
  // Streams the host keeps open (stdio, broker, health watches): closed on
  // shutdown so that the server can stop.
  const open = new Set();
  const keepOpen = (call) => {
    open.add(call);
    const forget = () => open.delete(call);
    call.on('cancelled', forget);
    call.on('finish', forget);
    call.on('error', forget);
  };

  let stopping = false;
  const stop = (reason) => {
    if (stopping) return;
    stopping = true;
    log.debug('connector stopping', { reason });
    for (const call of open) call.end();
    const hard = setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(hard);
      process.exit(0);
    });
  };

  const servingStatus = (service) => (service === '' || service === 'plugin' ? 'SERVING' : null);
  server.addService(services.health, {
    Check(call, callback) {
      const status = servingStatus(call.request.service);
      if (!status) return callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
      callback(null, { status });
    },
    Watch(call) {
      keepOpen(call);
      call.write({ status: servingStatus(call.request.service) || 'SERVICE_UNKNOWN' });
    },
  });
  server.addService(services.controller, {
    Shutdown(call, callback) {
      callback(null, {});
      setImmediate(() => stop('the hub called Shutdown'));
    },
  });
  server.addService(services.stdio, {
    // Logs go to the real stderr, which go-plugin reads; nothing is sent
    // here, but the stream stays open as go-plugin expects.
    StreamStdio(call) {
      keepOpen(call);
    },
  });
  server.addService(services.broker, {
    // This connector brokers no extra connections.
    StartStream(call) {
      keepOpen(call);
      call.on('data', () => {});
      call.on('end', () => call.end());
    },
  });
  server.addService(services.connector, handlers);

  const port = await listen(server, creds, ports);

  // The hub starts the connector in its own process group: an interrupt
  // typed at the hub's terminal reaches both, and the hub decides when the
  // connector stops (by Shutdown), as go-plugin's Go plugins do.
  process.on('SIGINT', () => log.debug('interrupt ignored: the hub stops the connector'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // If the hub dies without stopping the connector, the connector is
  // handed to another parent: it stops rather than linger on its port.
  process.stderr.on('error', () => {}); // the hub's end of stderr may be gone
  setInterval(() => {
    if (process.ppid !== hub) {
      server.forceShutdown();
      process.exit(0);
    }
  }, PARENT_POLL_MS).unref();

  let line = [CORE_PROTOCOL_VERSION, HANDSHAKE.protocolVersion, 'tcp', `127.0.0.1:${port}`, 'grpc', handshakeCert].join('|');
  if (env.PLUGIN_MULTIPLEX_GRPC) {
    // The seventh field answers whether broker connections can share the
    // main listener: this connector opens none and does not multiplex.
    line += '|false';
  }
  log.debug('plugin address', { network: 'tcp', address: `127.0.0.1:${port}`, tls: handshakeCert !== '' });
  process.stdout.write(line + '\n');
}

module.exports = { serve, StartupError, HANDSHAKE, CORE_PROTOCOL_VERSION };
