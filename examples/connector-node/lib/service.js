'use strict';

// The volunteer registry connector: snodo.connector.v1.Connector's
// handlers, in @grpc/grpc-js's shape.

const grpc = require('@grpc/grpc-js');
const { log } = require('./log');
const { ConnectorError, toProblem, toStatus } = require('./errors');
const { SETTINGS_SCHEMA, parseSettings } = require('./settings');
const { VOLUNTEER_SCHEMA, loadRegistry, records } = require('./registry');
const { version } = require('../package.json');

const DEFAULT_BATCH = 100;

const MANIFEST = Object.freeze({
  name: 'volunteer-registry',
  version,
  kind: 'SYSTEM_KIND_THIRD_SECTOR',
  description:
    "Reads a third-sector partner's volunteer registry (albo dei volontari), exported as JSON, " +
    'into volunteer records: registry number as pseudonym, organisation, skills, languages, availability and assignments to pathways.',
  produces: [VOLUNTEER_SCHEMA],
  accepts: [],
  settings_schema: Buffer.from(JSON.stringify(SETTINGS_SCHEMA, null, 2)),
});

// The cursor is {"next": N}: the position in the registry of the first entry
// not yet read. Entries are appended to the registry, never reordered.
function parseCursor(raw) {
  if (!raw || raw.length === 0) return 0;
  let c;
  try {
    c = JSON.parse(raw.toString('utf8'));
  } catch {
    c = undefined;
  }
  if (c === null || typeof c !== 'object' || !Number.isSafeInteger(c.next) || c.next < 0) {
    throw new ConnectorError(
      'config',
      '',
      'the cursor is not one this connector wrote (it writes {"next": N}): clear the instance\'s cursor to read the registry from the start',
    );
  }
  return c.next;
}

function cursor(next) {
  return Buffer.from(JSON.stringify({ next }));
}

// send writes a batch and waits until the stream can take more (or the hub
// has gone): the host's pace is the connector's.
function send(call, batch) {
  return new Promise((resolve) => {
    if (call.write(batch)) return resolve();
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

// unexpected logs a bug of the connector; the admin sees a fatal problem.
function unexpected(call, err) {
  log.error('unexpected failure', { call, error: err && err.stack });
}

const handlers = {
  Describe(_call, callback) {
    callback(null, { manifest: MANIFEST });
  },

  async Check(call, callback) {
    try {
      const settings = parseSettings(call.request.settings, call.request.settings_dir);
      const registry = await loadRegistry(settings);
      let usable = 0;
      let skipped = 0;
      for (const r of records(registry, settings, 0)) {
        if (r.error) skipped++;
        else usable++;
      }
      log.info('registry reachable', { entries: registry.entries.length, usable, skipped });
      callback(null, {});
    } catch (err) {
      if (!(err instanceof ConnectorError)) unexpected('Check', err);
      callback(null, { problem: toProblem(err) });
    }
  },

  async Read(call) {
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    try {
      const req = call.request;
      const settings = parseSettings(req.settings, req.settings_dir);
      const start = parseCursor(req.cursor);
      const max = req.max_batch > 0 ? req.max_batch : DEFAULT_BATCH;
      const registry = await loadRegistry(settings);
      if (start > registry.entries.length) {
        log.warn('the cursor is past the end of the registry: was the export replaced by a shorter one?', {
          next: start,
          entries: registry.entries.length,
        });
      }
      let batch = [];
      let next = start;
      let sent = 0;
      let skipped = 0;
      for (const r of records(registry, settings, start)) {
        if (cancelled) break;
        if (r.error) {
          skipped++;
          log.warn('registry entry skipped: it cannot make a valid volunteer record', { entry: r.index, problem: r.error.message });
          continue;
        }
        batch.push(Buffer.from(JSON.stringify(r.record)));
        next = r.index + 1;
        if (batch.length === max) {
          await send(call, { records: batch, cursor: cursor(next) });
          sent += batch.length;
          batch = [];
        }
      }
      if (cancelled) {
        log.debug('read cancelled by the hub', { sent });
        return;
      }
      if (batch.length) {
        await send(call, { records: batch, cursor: cursor(next) });
        sent += batch.length;
      }
      log.debug('read done', { from: start, sent, skipped, next });
      call.end();
    } catch (err) {
      if (!(err instanceof ConnectorError)) unexpected('Read', err);
      if (!cancelled) call.emit('error', toStatus(err));
    }
  },

  Write(_call, callback) {
    callback({
      code: grpc.status.UNIMPLEMENTED,
      details: `connector ${MANIFEST.name} does not write records (it accepts none): it only reads the volunteer registry`,
    });
  },
};

module.exports = { handlers, MANIFEST, parseCursor };
