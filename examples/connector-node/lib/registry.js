'use strict';

// The partner's system: a volunteer registry (albo dei volontari) exported
// as JSON, and its mapping onto Snodo's volunteer schema.
//
// The export is an object:
//
//   {
//     "albo": "Albo dei volontari ...",            (optional, a title)
//     "esportato_il": "2024-07-01T09:00:00+02:00", (optional; the default recorded_at)
//     "volontari": [ ENTRY, ... ]                  (in registration order; new ones appended)
//   }
//
// and an ENTRY is
//
//   {
//     "id": "V-0001",                     the row id in the registry  -> record_id
//     "tessera": "AUSER-SESTO-0042",      the registry number         -> pseudonym
//     "associazione": "ORG-AUSER-SESTO",  the organisation's id       -> organisation
//     "attivo": true,                                                   -> active
//     "competenze": ["tutoraggio", ...],  Italian labels, translated   -> skills
//     "lingue": ["it", "ar"],             ISO 639 codes                -> languages
//     "disponibilita": {"ore_settimanali": 4, "giorni": ["mar", "giovedì"]} -> availability
//     "incarichi": [{"percorso": "PAIS-2024-0117", "ente_percorso": "sds-fi-nordovest",
//                    "dal": "2024-04-15", "al": null, "ore": 38.5}]  -> assignments
//     "ore_totali": 212,                                              -> total_hours
//     "aggiornato_il": "2024-06-28T18:30:00+02:00"                    -> recorded_at
//   }
//
// An entry that cannot make a valid record is skipped and logged with its
// position and the field at fault, never with a value.

const fs = require('node:fs/promises');
const grpc = require('@grpc/grpc-js');
const { ConnectorError } = require('./errors');

const VOLUNTEER_SCHEMA = 'https://snodo-hub.github.io/schemas/volunteer/1.0.0';
const SKILL_SYSTEM = 'https://snodo-hub.github.io/codes/volunteer-skill';

// The registry's skill labels, lower case without accents or punctuation,
// and the codes of Snodo's volunteer-skill list. A label not listed here
// becomes "other" with the label as display.
const SKILLS = new Map(
  Object.entries({
    'language-mediation': ['mediazione linguistica', 'mediazione culturale', 'mediazione linguistico culturale', 'interpretariato'],
    mentoring: ['tutoraggio', 'accompagnamento', 'tutor', 'mentoring'],
    'job-search-support': ['ricerca lavoro', 'orientamento al lavoro', 'supporto ricerca lavoro', 'curriculum'],
    'housing-search': ['ricerca casa', 'ricerca alloggio', 'supporto abitativo'],
    'legal-guidance': ['orientamento legale', 'sportello legale', 'consulenza legale'],
    'digital-skills': ['competenze digitali', 'alfabetizzazione digitale', 'informatica di base', 'spid e servizi online'],
    'italian-tutoring': ['insegnamento italiano', 'insegnamento dell italiano', 'italiano l2', 'scuola di italiano'],
    childcare: ['cura dei bambini', 'baby sitting', 'babysitting', 'doposcuola'],
    transport: ['trasporto', 'trasporto sociale', 'accompagnamento con auto'],
  }).flatMap(([code, labels]) => [[code, code], ...labels.map((l) => [l, code])]),
);

// Italian day names by their first three letters, and the schema's codes.
const DAYS = { lun: 'mon', mar: 'tue', mer: 'wed', gio: 'thu', ven: 'fri', sab: 'sat', dom: 'sun' };
const DAY_CODES = new Set(Object.values(DAYS));
const DAY_ORDER = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const RECORD_ID = /^[!-~]{1,128}$/;
const SOURCE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const LANGUAGE = /^[a-z]{2,3}$/;
// A value shaped like a codice fiscale: the volunteer schema refuses it as a
// pseudonym, and so does this connector.
const CF_SHAPED = /^[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// EntryError is why one entry was skipped.
class EntryError extends Error {
  constructor(field, reason) {
    super(`${field}: ${reason}`);
    this.field = field;
  }
}

function fold(label) {
  return label
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isDate(s) {
  const m = typeof s === 'string' && DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

function isDateTime(s) {
  const m = typeof s === 'string' && DATE_TIME.exec(s);
  if (!m || !isDate(m[1])) return false;
  const [h, mi, sec] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || sec > 59) return false;
  const z = m[6];
  if (z.length === 6 && (Number(z.slice(1, 3)) > 23 || Number(z.slice(4, 6)) > 59)) return false;
  return true;
}

function number(v, field, max) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
    throw new EntryError(field, `must be a number from 0 to ${max}`);
  }
  return v;
}

function recordId(v, field) {
  if (typeof v !== 'string' || !RECORD_ID.test(v)) {
    throw new EntryError(field, 'must be 1-128 printable ASCII characters without spaces');
  }
  return v;
}

function list(v, field, max) {
  if (!Array.isArray(v)) throw new EntryError(field, 'must be a list');
  if (v.length > max) throw new EntryError(field, `has more than ${max} items`);
  return v;
}

function skills(v) {
  const out = [];
  const seen = new Set();
  list(v, 'competenze', 20).forEach((label, i) => {
    if (typeof label !== 'string' || label.trim() === '') throw new EntryError(`competenze/${i}`, 'must be a label');
    const code = SKILLS.get(fold(label));
    const skill = code ? { system: SKILL_SYSTEM, code } : { system: SKILL_SYSTEM, code: 'other', display: label.trim().slice(0, 200) };
    const key = `${skill.code}\u0000${skill.display || ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(skill);
    }
  });
  return out;
}

function languages(v) {
  const out = [];
  list(v, 'lingue', 20).forEach((code, i) => {
    const c = typeof code === 'string' ? code.trim().toLowerCase() : '';
    if (!LANGUAGE.test(c)) throw new EntryError(`lingue/${i}`, 'must be an ISO 639 code of 2 or 3 letters');
    if (!out.includes(c)) out.push(c);
  });
  return out;
}

function availability(v) {
  if (!isObject(v)) throw new EntryError('disponibilita', 'must be an object');
  const out = {};
  if (v.ore_settimanali !== undefined && v.ore_settimanali !== null) {
    out.hours_per_week = number(v.ore_settimanali, 'disponibilita/ore_settimanali', 168);
  }
  if (v.giorni !== undefined && v.giorni !== null) {
    const days = new Set();
    list(v.giorni, 'disponibilita/giorni', 7).forEach((d, i) => {
      const f = typeof d === 'string' ? fold(d) : '';
      const code = DAY_CODES.has(f) ? f : DAYS[f.slice(0, 3)];
      if (!code) throw new EntryError(`disponibilita/giorni/${i}`, 'must be a day of the week (lun, mar, ... or lunedì, martedì, ...)');
      days.add(code);
    });
    out.days = DAY_ORDER.filter((d) => days.has(d));
  }
  return out;
}

function assignments(v) {
  return list(v, 'incarichi', 200).map((a, i) => {
    const at = `incarichi/${i}`;
    if (!isObject(a)) throw new EntryError(at, 'must be an object');
    const pathway = { record_id: recordId(a.percorso, `${at}/percorso`) };
    if (a.ente_percorso !== undefined && a.ente_percorso !== null) {
      if (typeof a.ente_percorso !== 'string' || !SOURCE_NAME.test(a.ente_percorso)) {
        throw new EntryError(`${at}/ente_percorso`, 'must be a source name (lower-case letters, digits and hyphens)');
      }
      pathway.source = a.ente_percorso;
    }
    if (!isDate(a.dal)) throw new EntryError(`${at}/dal`, 'must be a date (YYYY-MM-DD)');
    const out = { pathway, start: a.dal };
    if (a.al !== undefined && a.al !== null) {
      if (!isDate(a.al)) throw new EntryError(`${at}/al`, 'must be a date (YYYY-MM-DD) or null');
      if (a.al < a.dal) throw new EntryError(`${at}/al`, 'is before the start ("dal")');
      out.end = a.al;
    }
    if (a.ore !== undefined && a.ore !== null) out.hours = number(a.ore, `${at}/ore`, 100000);
    else if (out.end) throw new EntryError(`${at}/ore`, 'is missing: an ended assignment must report the hours given');
    return out;
  });
}

// toRecord maps one registry entry to a volunteer record; it throws an
// EntryError when the entry cannot make a valid one.
function toRecord(entry, settings, exportedAt) {
  if (!isObject(entry)) throw new EntryError('', 'must be an object');
  const recordedAt = entry.aggiornato_il ?? exportedAt;
  if (!isDateTime(recordedAt)) {
    throw new EntryError('aggiornato_il', 'must be a date and time with a time zone (RFC 3339), or the export must give "esportato_il"');
  }
  const pseudonym = recordId(entry.tessera, 'tessera');
  if (CF_SHAPED.test(pseudonym)) {
    throw new EntryError('tessera', 'is shaped like a codice fiscale: give the registry number, never a personal identifier');
  }
  const record = {
    schema: VOLUNTEER_SCHEMA,
    record_id: recordId(entry.id, 'id'),
    source: settings.source,
    territory: settings.territory,
    recorded_at: recordedAt,
    pseudonym,
    organisation: { record_id: recordId(entry.associazione, 'associazione') },
  };
  if (entry.attivo !== undefined && entry.attivo !== null) {
    if (typeof entry.attivo !== 'boolean') throw new EntryError('attivo', 'must be true or false');
    record.active = entry.attivo;
  }
  if (entry.competenze !== undefined && entry.competenze !== null) record.skills = skills(entry.competenze);
  if (entry.lingue !== undefined && entry.lingue !== null) record.languages = languages(entry.lingue);
  if (entry.disponibilita !== undefined && entry.disponibilita !== null) record.availability = availability(entry.disponibilita);
  if (entry.incarichi !== undefined && entry.incarichi !== null) record.assignments = assignments(entry.incarichi);
  if (entry.ore_totali !== undefined && entry.ore_totali !== null) record.total_hours = number(entry.ore_totali, 'ore_totali', 1000000);
  return record;
}

// fileError classes a failure to read the registry file.
function fileError(err, file) {
  const where = `the registry file ${file}`;
  const fix = 'check "registry" in the settings (a relative path is relative to the settings file\'s folder)';
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new ConnectorError('config', '/registry', `${where} does not exist: ${fix}`, grpc.status.FAILED_PRECONDITION);
    case 'EISDIR':
      return new ConnectorError('config', '/registry', `${where} is a folder: name the export file itself`, grpc.status.FAILED_PRECONDITION);
    case 'EACCES':
    case 'EPERM':
      return new ConnectorError('config', '/registry', `${where} cannot be read (permission denied): let the hub's user read it`, grpc.status.FAILED_PRECONDITION);
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
    case 'EIO':
      return new ConnectorError('transient', '/registry', `${where} cannot be read now (${err.code}): the hub will retry`);
    default:
      return new ConnectorError('fatal', '/registry', `${where} cannot be read (${err.code || 'unknown error'})`);
  }
}

// syntaxErrorAt returns the offset of the first JSON syntax error in text.
// JSON.parse's own message quotes the text, which may be personal: the
// admin is told the line and column instead.
function syntaxErrorAt(text) {
  let i = 0;
  const fail = () => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] < ' ') fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] || 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return i++;
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return i++;
        else fail();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += m[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
  return -1;
}

function position(text) {
  const at = syntaxErrorAt(text);
  if (at < 0) return '';
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

// loadRegistry reads the export named by the settings. It returns
// {exportedAt, entries} and throws a ConnectorError when the file is
// missing, unreadable or not a registry export.
async function loadRegistry(settings) {
  const file = settings.registryPath;
  let text;
  try {
    // Exports from Windows tools often start with a byte order mark.
    text = (await fs.readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    throw fileError(err, file);
  }
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConnectorError(
      'config',
      '/registry',
      `the registry file ${file} is not valid JSON${position(text)}: export the registry again`,
      grpc.status.FAILED_PRECONDITION,
    );
  }
  if (!isObject(doc) || !Array.isArray(doc.volontari)) {
    throw new ConnectorError(
      'config',
      '/registry',
      `the registry file ${file} is not a volunteer registry export: it must be a JSON object with a "volontari" list`,
      grpc.status.FAILED_PRECONDITION,
    );
  }
  const exportedAt = typeof doc.esportato_il === 'string' ? doc.esportato_il : undefined;
  return { exportedAt, entries: doc.volontari };
}

// records maps the entries from index start on: it yields {index, record}
// or {index, error} in order. An id already used by an earlier entry makes
// an error, so that a record id is never read twice.
function* records(registry, settings, start) {
  const earlier = new Map();
  registry.entries.forEach((e, i) => {
    if (isObject(e) && typeof e.id === 'string' && !earlier.has(e.id)) earlier.set(e.id, i);
  });
  for (let i = start; i < registry.entries.length; i++) {
    const entry = registry.entries[i];
    try {
      const first = isObject(entry) ? earlier.get(entry.id) : undefined;
      if (first !== undefined && first !== i) throw new EntryError('id', `repeats the id of entry ${first}`);
      yield { index: i, record: toRecord(entry, settings, registry.exportedAt) };
    } catch (err) {
      if (!(err instanceof EntryError)) throw err;
      yield { index: i, error: err };
    }
  }
}

module.exports = { VOLUNTEER_SCHEMA, loadRegistry, records, toRecord, EntryError, syntaxErrorAt };
