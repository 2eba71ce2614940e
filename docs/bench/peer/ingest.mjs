// The peer of hub/pipeline's BenchmarkPeer: what a team without Snodo would
// write in Node.js to do the hub's ingest work with the fastest JSON Schema
// validator (ajv, draft 2020-12) and SQLite binding (better-sqlite3) of
// that ecosystem.
//
//	node ingest.mjs RECORDS.jsonl DB.sqlite [--source NAME] [--territory CODE] [--schemas DIR] [--batch N] [--person-index]
//
// RECORDS.jsonl holds one record per line, exactly the bytes the hub's
// pipeline is handed. For each batch of 500 (the hub's batch) it decodes
// each record, normalises its identifiers, checks the envelope's source and
// territory, validates the record against the schema its "schema" field
// names ($id, as hub/pipeline does), pseudonymises the identifiers and
// upserts the record, puts what fails in a quarantine table, and commits the
// batch with its cursor in one transaction. It prints one JSON line.
//
// What is the same as the hub (hub/pipeline, hub/identity, hub/store):
//   - the contract: every schemas/*.schema.json, added to ajv by its $id,
//     and every code list turned into a schema under its system URI exactly
//     as schemas.CodeList.Schema does; the formats the hub checks (date,
//     date-time, uri, and codice-fiscale with its check letter,
//     cf-provisional with its check digit, istat-comune and country
//     against schemas/places);
//   - identifiers are normalised (upper case, no spaces or hyphens) before
//     validation, and each becomes HMAC-SHA256(key, kind "|" code) under a
//     32-byte key, as identity.Key.Digest computes it;
//   - the store: a records table of the hub's shape (schema, schema_id,
//     source, record_id, territory, content_hash = SHA-256 of the body,
//     body, recorded_at, first_stored_at, updated_at, version, person_id),
//     idempotent on (source, record_id) with the version raised only when
//     the content changed; the same pragmas (WAL, synchronous NORMAL,
//     foreign keys, 5 s busy timeout); BEGIN IMMEDIATE, one transaction per
//     batch that also commits the cursor; quarantined records sealed with
//     AES-256-GCM under a key derived by HKDF-SHA256.
//
// What is not the same (the hub does more):
//   - by default, no keyed person index: the hub looks each digest up in
//     person_identifiers inside the transaction and gives a new person a
//     random ULID (two more rows per new person), links the identifiers a
//     record gives together into one person and quarantines records whose
//     identifiers belong to two people. The peer writes each identifier's
//     digest (hex) in place of the code and uses the first one as the
//     record's person key: the same person under a codice fiscale and a
//     provisional code stays two keys. With --person-index the peer does
//     what the hub does here too (same tables, lookups and inserts; ULIDs
//     from node's crypto) and writes {"person_id": …} in place of each
//     {"identifiers": …};
//   - the body is JSON.stringify of the decoded record (keys in the order
//     they came), not the hub's canonical JSON (sorted keys, numbers as
//     written), so a record re-sent with its keys in another order counts
//     as changed;
//   - validation errors are ajv's first (allErrors off), where the hub
//     lists every violation with messages written for the data's owner
//     and masks pointers that could be identifiers (the peer, like the
//     hub, refuses a record_id shaped like an identifier and extensions
//     that hold one in clear, but names only the first place);
//   - no pub/sub, retries, poison queue, flood detection or counters.
//
// The key is random for each run, as in the Go benchmarks.

import { createHash, createHmac, createCipheriv, hkdfSync, randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import Ajv2020Module from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import Database from "better-sqlite3";

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    source: { type: "string", default: "anagrafe" },
    territory: { type: "string", default: "SDS-TEST" },
    schemas: { type: "string", default: resolve(here, "../../../schemas") },
    batch: { type: "string", default: "500" },
    "person-index": { type: "boolean", default: false },
  },
});
if (positionals.length !== 2) {
  process.stderr.write("usage: node ingest.mjs RECORDS.jsonl DB.sqlite [--source NAME] [--territory CODE] [--schemas DIR] [--batch N] [--person-index]\n");
  process.exit(2);
}
const [recordsPath, dbPath] = positionals;
const batchSize = Number.parseInt(opts.batch, 10);
if (!(batchSize > 0)) {
  throw new Error(`--batch ${opts.batch}: give a positive number of records per transaction`);
}

// --- identifiers, as hub/identity checks them ---------------------------

const KINDS = ["cf", "cf-provisional", "stp", "eni"]; // the hub's order
const ODD = "BAKPLCQDREVOSFTGUHMINJWZYX"; // value of a letter at odd positions
const MONTHS = "ABCDEHLMPRST";
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function normalise(s) {
  return s.replace(/[\s-]/gu, "").toUpperCase();
}

// digit reads a digit or an omocodia letter (L…V stand for 0…9), or -1.
function digit(c) {
  if (c >= "0" && c <= "9") return c.charCodeAt(0) - 48;
  const i = "LMNPQRSTUV".indexOf(c);
  return i;
}

function isCodiceFiscale(v) {
  if (v.length !== 16 || !/^[A-Z]{6}[0-9A-Z]{2}[A-Z][0-9A-Z]{2}[A-Z][0-9A-Z]{3}[A-Z]$/.test(v)) return false;
  const month = MONTHS.indexOf(v[8]);
  const y1 = digit(v[6]), y2 = digit(v[7]), d1 = digit(v[9]), d2 = digit(v[10]);
  if (month < 0 || y1 < 0 || y2 < 0 || d1 < 0 || d2 < 0) return false;
  let day = d1 * 10 + d2;
  if (day > 40) day -= 40;
  if (day < 1 || day > DAYS[month]) return false;
  for (let i = 12; i < 15; i++) if (digit(v[i]) < 0) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = v.charCodeAt(i);
    const isDigit = c >= 48 && c <= 57;
    if (i % 2 === 0) sum += ODD.indexOf(String.fromCharCode(isDigit ? c - 48 + 65 : c));
    else sum += isDigit ? c - 48 : c - 65;
  }
  return v.charCodeAt(15) === 65 + (sum % 26);
}

function isProvisional(v) {
  if (!/^[0-9]{11}$/.test(v)) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    let d = v.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return v.charCodeAt(10) - 48 === (10 - (sum % 10)) % 10;
}

// The shapes of a codice fiscale and an STP/ENI code, check character or
// not, as hub/pipeline finds them: a record_id must not be one, and
// extensions must not hold one, as a key or inside a string.
const CF_SHAPE = /^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/;
const HEALTH_SHAPE = /^(STP|ENI)[0-9]{13}$/;
const IN_TEXT = /\b(?:[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]|(?:STP|ENI)[0-9]{13})\b/i;

function looksLikeIdentifier(s) {
  const n = normalise(s);
  return CF_SHAPE.test(n) || HEALTH_SHAPE.test(n);
}

function containsIdentifier(s) {
  return s.length >= 16 && (looksLikeIdentifier(s) || IN_TEXT.test(s));
}

// clearInExtensions reports whether extensions hold an identifier in clear
// (the "identifiers" objects excepted: they are pseudonymised).
function clearInExtensions(v) {
  if (typeof v === "string") return containsIdentifier(v);
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some(clearInExtensions);
  for (const k of Object.keys(v)) {
    if (k === "identifiers") continue;
    if (containsIdentifier(k) || clearInExtensions(v[k])) return true;
  }
  return false;
}

// The stored formats must already be normalised, as identity.CheckFormat wants.
const storedID = (check) => (v) => normalise(v) === v && check(v);

// --- the contract -----------------------------------------------------------

const schemasDir = opts.schemas;
const readJSON = (p) => JSON.parse(readFileSync(p, "utf8"));
const comuni = new Set(readJSON(join(schemasDir, "places/comuni.json")).map((c) => c.istat));
const countries = new Set(readJSON(join(schemasDir, "places/countries.json")).map((c) => c.cadastral));

// strict is off: ajv's strict mode refuses valid 2020-12 the contract uses
// ("required" naming a property the same subschema does not define, as in
// person's "not": {"required": ["permit"]}).
const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv, ["date", "date-time", "uri"]);
ajv.addFormat("codice-fiscale", { type: "string", validate: storedID(isCodiceFiscale) });
ajv.addFormat("cf-provisional", { type: "string", validate: storedID(isProvisional) });
ajv.addFormat("istat-comune", { type: "string", validate: (v) => comuni.has(v) });
ajv.addFormat("country", { type: "string", validate: (v) => v === "IT" || countries.has(v) });

// Code lists become schemas under their system URI, as
// schemas.CodeList.Schema makes them: a closed list is a string enum, an
// open one a coding {system, code, display} whose code is in the list.
for (const f of readdirSync(join(schemasDir, "codes"))) {
  if (!f.endsWith(".json") || f.endsWith(".schema.json")) continue;
  const l = readJSON(join(schemasDir, "codes", f));
  const codes = l.codes.map((c) => c.code);
  ajv.addSchema(
    l.closed
      ? { $id: l.system, type: "string", enum: codes }
      : {
          $id: l.system,
          type: "object",
          properties: { system: { const: l.system }, code: { enum: codes }, display: { type: "string", maxLength: 200 } },
          required: ["system", "code"],
          additionalProperties: false,
        },
  );
}
const entityIDs = new Map(); // $id → short name
for (const f of readdirSync(schemasDir)) {
  if (!f.endsWith(".schema.json")) continue;
  const s = readJSON(join(schemasDir, f));
  ajv.addSchema(s); // by its $id
  const name = f.slice(0, -".schema.json".length);
  if (name !== "common") entityIDs.set(s.$id, name);
}
const validators = new Map(); // $id → compiled validator, compiled on first use
function validatorFor(id) {
  let v = validators.get(id);
  if (v === undefined && entityIDs.has(id)) {
    v = ajv.getSchema(id);
    validators.set(id, v);
  }
  return v;
}

// --- the store --------------------------------------------------------------

const key = randomBytes(32);
const sealKey = Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "peer quarantine v1", 32));

const db = new Database(dbPath);
db.pragma("busy_timeout = 5000");
db.pragma("journal_mode = WAL");
db.pragma("foreign_keys = ON");
db.pragma("synchronous = NORMAL");
db.exec(`
CREATE TABLE IF NOT EXISTS records (
    id              INTEGER PRIMARY KEY,
    schema          TEXT    NOT NULL,
    schema_id       TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    territory       TEXT    NOT NULL,
    content_hash    BLOB    NOT NULL,
    body            BLOB    NOT NULL,
    recorded_at     TEXT,
    first_stored_at TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    person_id       TEXT,
    UNIQUE (source, record_id)
) STRICT;
CREATE INDEX IF NOT EXISTS records_schema ON records (schema);
CREATE INDEX IF NOT EXISTS records_person ON records (person_id, recorded_at) WHERE person_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS cursors (
    source     TEXT NOT NULL PRIMARY KEY,
    cursor     BLOB NOT NULL,
    updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    record_id   TEXT,
    schema      TEXT,
    errors      TEXT NOT NULL,
    raw         BLOB NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
`);
const upsert = db.prepare(`
INSERT INTO records (schema, schema_id, source, record_id, territory, content_hash, body, recorded_at, first_stored_at, updated_at, person_id)
VALUES (@schema, @schema_id, @source, @record_id, @territory, @hash, @body, @recorded_at, @now, @now, @person_id)
ON CONFLICT (source, record_id) DO UPDATE SET
    schema = excluded.schema, schema_id = excluded.schema_id, territory = excluded.territory,
    content_hash = excluded.content_hash, body = excluded.body, recorded_at = excluded.recorded_at,
    updated_at = excluded.updated_at, person_id = excluded.person_id, version = version + 1
WHERE records.content_hash <> excluded.content_hash
RETURNING version`);
const setCursor = db.prepare(`
INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?)
ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`);
const addQuarantine = db.prepare(`
INSERT INTO quarantine (source, record_id, schema, errors, raw, created_at) VALUES (?, ?, ?, ?, ?, ?)`);

// With --person-index the peer keeps the hub's keyed index as well: a
// table of digests → person, a random ULID for each new person, the other
// identifiers of a record linked to the person the first known one names,
// and a record whose identifiers belong to two people quarantined.
const personIndex = opts["person-index"];
let findPerson, insertPerson, insertIdentifier;
if (personIndex) {
  db.exec(`
CREATE TABLE IF NOT EXISTS persons (
    person_id  TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_identifiers (
    digest    BLOB NOT NULL PRIMARY KEY,
    kind      TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES persons (person_id),
    linked_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_identifiers_person ON person_identifiers (person_id);
`);
  findPerson = db.prepare("SELECT person_id FROM person_identifiers WHERE digest = ?").pluck();
  insertPerson = db.prepare("INSERT INTO persons (person_id, created_at) VALUES (?, ?)");
  insertIdentifier = db.prepare("INSERT INTO person_identifiers (digest, kind, person_id, linked_at) VALUES (?, ?, ?, ?)");
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
function ulid() {
  let t = Date.now();
  let out = "";
  for (let i = 0; i < 10; i++, t = Math.floor(t / 32)) out = CROCKFORD[t % 32] + out;
  for (const b of randomBytes(16)) out += CROCKFORD[b % 32];
  return out;
}

// resolvePerson finds or makes the person of one identifiers object, or
// returns null when its identifiers already belong to two people.
function resolvePerson(ids) {
  const now = new Date().toISOString();
  let known = null;
  const unknown = [];
  for (const kind of KINDS) {
    if (typeof ids[kind] !== "string") continue;
    const digest = createHmac("sha256", key).update(`${kind}|${ids[kind]}`).digest();
    const id = findPerson.get(digest);
    if (id === undefined) unknown.push([digest, kind]);
    else if (known !== null && id !== known) return null;
    else known = id;
  }
  if (known === null) {
    known = ulid();
    insertPerson.run(known, now);
  }
  for (const [digest, kind] of unknown) insertIdentifier.run(digest, kind, known, now);
  return known;
}

// --- the work ---------------------------------------------------------------

// refsOf collects every object holding "identifiers", anywhere in the record
// (extensions too), in document order, and normalises its codes in place.
function refsOf(v, out) {
  if (Array.isArray(v)) {
    for (const item of v) if (item !== null && typeof item === "object") refsOf(item, out);
  } else {
    const ids = v.identifiers;
    if (ids !== null && typeof ids === "object" && !Array.isArray(ids)) {
      for (const k of Object.keys(ids)) if (typeof ids[k] === "string") ids[k] = normalise(ids[k]);
      out.push(v);
    }
    for (const k of Object.keys(v)) {
      const item = v[k];
      if (k !== "identifiers" && item !== null && typeof item === "object") refsOf(item, out);
    }
  }
  return out;
}

function seal(raw, source, recordID) {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", sealKey, nonce);
  c.setAAD(Buffer.from(`${source}\0${recordID ?? ""}`));
  return Buffer.concat([Buffer.from([1]), nonce, c.update(raw, "utf8"), c.final(), c.getAuthTag()]);
}

const counts = { records: 0, inserted: 0, updated: 0, unchanged: 0, quarantined: 0 };

function quarantine(source, raw, recordID, schema, errors, now) {
  addQuarantine.run(source, recordID ?? null, schema ?? null, JSON.stringify(errors), seal(raw, source, recordID), now);
  counts.quarantined++;
}

// ingest handles one record inside the batch's transaction.
function ingest(source, raw, now) {
  let doc;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    return quarantine(source, raw, null, null, [{ pointer: "", message: "not a JSON document" }], now);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return quarantine(source, raw, null, null, [{ pointer: "", message: "a record must be a JSON object" }], now);
  }
  let recordID = typeof doc.record_id === "string" ? doc.record_id : null;
  const errors = [];
  if (recordID !== null && looksLikeIdentifier(recordID)) {
    recordID = null; // kept only inside the sealed raw record
    errors.push({ pointer: "/record_id", message: "looks like a personal identifier" });
  }
  const refs = refsOf(doc, []);
  if (doc.extensions !== undefined && clearInExtensions(doc.extensions)) {
    errors.push({ pointer: "/extensions", message: "holds a personal identifier in clear" });
  }
  const name = entityIDs.get(doc.schema);
  const validate = validatorFor(doc.schema);
  if (doc.source !== undefined && doc.source !== source) errors.push({ pointer: "/source", message: "not the connector instance's name" });
  if (doc.territory !== undefined && doc.territory !== opts.territory) errors.push({ pointer: "/territory", message: "not this hub's territory" });
  if (validate === undefined) {
    errors.push({ pointer: "/schema", message: "unknown schema $id" });
  } else if (!validate(doc)) {
    for (const e of validate.errors) errors.push({ pointer: e.instancePath, message: e.message });
  }
  if (errors.length > 0) return quarantine(source, raw, recordID, name, errors, now);

  // Pseudonymise. The record's person is that of /person, else of the
  // first personRef.
  let person = null;
  const main = refs.find((r) => r === doc.person) ?? refs[0];
  for (const ref of refs) {
    const ids = ref.identifiers;
    if (personIndex) {
      const id = resolvePerson(ids);
      if (id === null) return quarantine(source, raw, recordID, name, [{ pointer: "", message: "identifiers of two different people" }], now);
      delete ref.identifiers;
      ref.person_id = id;
      if (ref === main) person = id;
      continue;
    }
    // Every code becomes its keyed digest (hex); the person is the first
    // identifier in the hub's kind order.
    for (const kind of KINDS) {
      if (typeof ids[kind] !== "string") continue;
      const d = createHmac("sha256", key).update(`${kind}|${ids[kind]}`).digest("hex");
      ids[kind] = d;
      if (ref === main && person === null) person = d;
    }
  }
  const body = Buffer.from(JSON.stringify(doc));
  const row = upsert.get({
    schema: name,
    schema_id: doc.schema,
    source,
    record_id: recordID,
    territory: doc.territory,
    hash: createHash("sha256").update(body).digest(),
    body,
    recorded_at: new Date(doc.recorded_at).toISOString(),
    now,
    person_id: person,
  });
  if (row === undefined) counts.unchanged++;
  else if (row.version === 1) counts.inserted++;
  else counts.updated++;
}

const storeBatch = db.transaction((source, lines, cursor) => {
  const now = new Date().toISOString();
  for (const raw of lines) ingest(source, raw, now);
  setCursor.run(source, Buffer.from(String(cursor)), now);
});

// The records are read before the clock starts: the hub's benchmark hands
// records already in memory to Sink.
const lines = readFileSync(recordsPath, "utf8").split("\n");
if (lines.at(-1) === "") lines.pop();
counts.records = lines.length;

const setupCPU = process.cpuUsage();
const start = process.hrtime.bigint();
for (let i = 0; i < lines.length; i += batchSize) {
  storeBatch.immediate(opts.source, lines.slice(i, i + batchSize), Math.min(i + batchSize, lines.length));
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(setupCPU);
db.close();
const usage = process.resourceUsage();
// The peak RSS is VmHWM, the high-water mark of this process's own memory.
// ru_maxrss (resourceUsage().maxRSS) is not: Linux carries it across
// exec, so a node started by a large process reports its parent's size.
let peakKiB = usage.maxRSS;
try {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (m) peakKiB = Number(m[1]);
} catch {
  // Not Linux: keep ru_maxrss.
}

process.stdout.write(
  JSON.stringify({
    records: counts.records,
    seconds,
    records_per_s: counts.records / seconds,
    // CPU of the timed ingest only, the window the hub's figures cover.
    cpu_user_s: cpu.user / 1e6,
    cpu_system_s: cpu.system / 1e6,
    // CPU of the whole process: node's start, compiling the schemas, reading the file.
    process_cpu_user_s: usage.userCPUTime / 1e6,
    process_cpu_system_s: usage.systemCPUTime / 1e6,
    peak_rss_kib: peakKiB,
    inserted: counts.inserted,
    updated: counts.updated,
    unchanged: counts.unchanged,
    quarantined: counts.quarantined,
  }) + "\n",
);
