'use strict';

// The connector's settings: their JSON Schema (published in the manifest)
// and a check of a settings document against it, done before every Check
// and Read as the Go SDK does for Go connectors.

const path = require('node:path');
const { ConnectorError } = require('./errors');

const SETTINGS_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Volunteer registry connector settings',
  description: "Where the partner's volunteer registry export is, and how its records are labelled in the hub.",
  type: 'object',
  required: ['source', 'territory', 'registry'],
  properties: {
    source: {
      description: 'The name of this connector instance, written in every record as "source": lower-case letters, digits and hyphens.',
      type: 'string',
      pattern: '^[a-z][a-z0-9-]*$',
      maxLength: 63,
    },
    territory: {
      description: 'The code of the territory the hub runs for (e.g. SDS-FI-NORDOVEST), written in every record.',
      type: 'string',
      pattern: '^[A-Z0-9][A-Z0-9-]+$',
      maxLength: 32,
    },
    registry: {
      description: "The registry export to read (JSON, see the connector's README). A relative path is relative to the settings file's folder.",
      type: 'string',
      minLength: 1,
    },
  },
  additionalProperties: false,
});

const TYPES = {
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  string: (v) => typeof v === 'string',
};

// violations checks doc against the subset of JSON Schema that
// SETTINGS_SCHEMA uses (type, required, properties, additionalProperties,
// pattern, minLength, maxLength). Each violation is {pointer, message};
// messages never repeat the values, only where they are.
function violations(doc, schema = SETTINGS_SCHEMA, pointer = '') {
  if (!TYPES[schema.type](doc)) {
    return [{ pointer, message: `must be a JSON ${schema.type}` }];
  }
  if (schema.type === 'string') {
    const out = [];
    const length = [...doc].length;
    if (schema.minLength !== undefined && length < schema.minLength) out.push({ pointer, message: 'must not be empty' });
    if (schema.maxLength !== undefined && length > schema.maxLength) out.push({ pointer, message: `must be at most ${schema.maxLength} characters long` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(doc)) out.push({ pointer, message: `must match ${schema.pattern}` });
    return out;
  }
  const out = [];
  for (const key of schema.required || []) {
    if (!(key in doc)) {
      out.push({ pointer: `${pointer}/${escape(key)}`, message: `is missing (${schema.properties[key].description.replace(/\.$/, '')})` });
    }
  }
  for (const [key, value] of Object.entries(doc)) {
    const sub = schema.properties[key];
    if (sub) out.push(...violations(value, sub, `${pointer}/${escape(key)}`));
    else if (schema.additionalProperties === false) {
      out.push({ pointer: `${pointer}/${escape(key)}`, message: `is not a setting of this connector (known: ${Object.keys(schema.properties).join(', ')})` });
    }
  }
  return out;
}

// escape makes a key a JSON pointer token (RFC 6901).
function escape(key) {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

// parseSettings decodes and checks the settings of a call; dir is the
// folder relative paths are relative to ("" when the settings came from no
// file). It throws a config ConnectorError naming every problem.
function parseSettings(raw, dir) {
  const text = raw && raw.length ? raw.toString('utf8') : '{}';
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    // The parser's message may quote the text: say where, never what.
    throw new ConnectorError('config', '', 'the settings are not valid JSON: give a JSON object (see settings.example.json)');
  }
  const found = violations(doc);
  if (found.length) {
    const list = found.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
    throw new ConnectorError('config', found[0].pointer, `the settings do not follow the connector's settings schema: ${list}`);
  }
  return {
    source: doc.source,
    territory: doc.territory,
    registryPath: resolve(doc.registry, dir || ''),
  };
}

function resolve(p, dir) {
  if (path.isAbsolute(p) || dir === '') return p;
  return path.join(dir, p);
}

module.exports = { SETTINGS_SCHEMA, parseSettings, violations };
