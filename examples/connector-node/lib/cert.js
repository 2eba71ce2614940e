'use strict';

// The connector's own certificate for go-plugin's automatic mutual TLS: a
// fresh self-signed ECDSA P-256 certificate for "localhost", made at every
// start with Node's crypto and written in DER by hand (an X.509
// certificate is a few nested ASN.1 structures), as go-plugin's
// generateCert makes its own. The host trusts exactly this certificate: it
// reads it from the handshake line.

const crypto = require('node:crypto');

// DER: tag, length, value.
function length(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...parts) => tlv(0x30, ...parts);
const set = (...parts) => tlv(0x31, ...parts);
const explicit = (n, inner) => tlv(0xa0 + n, inner);
const boolean = (v) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const octets = (buf) => tlv(0x04, buf);
const utf8 = (s) => tlv(0x0c, Buffer.from(s, 'utf8'));

// integer encodes a non-negative integer given as big-endian bytes.
function integer(bytes) {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && b[1] < 0x80) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted) {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const enc = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}

// bits encodes a BIT STRING whose last byte has unused trailing bits.
function bits(buf, unused = 0) {
  return tlv(0x03, Buffer.from([unused]), buf);
}

// time is UTCTime until 2049 and GeneralizedTime after (RFC 5280 4.1.2.5).
function time(d) {
  const iso = d.toISOString(); // 2024-07-01T09:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20240701090000Z
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2))) : tlv(0x18, Buffer.from(digits));
}

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

function extension(id, critical, value) {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octets(value));
}

// selfSignedCert returns the certificate (PEM), its private key (PEM) and
// the certificate as go-plugin's handshake wants it: base64 of the DER
// without padding (Go's RawStdEncoding).
function selfSignedCert(now = new Date()) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x01; // positive and 16 bytes long
  const name = sequence(set(sequence(oid(OID.commonName), utf8('localhost'))));
  const algorithm = sequence(oid(OID.ecdsaWithSHA256));
  const notBefore = new Date(now.getTime() - 30 * 1000);
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const tbs = sequence(
    explicit(0, integer([2])), // version 3
    integer(serial),
    algorithm,
    name, // issuer
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    spki,
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        // digitalSignature (bit 0) and keyCertSign (bit 5): 10000100, the
        // last two bits unused.
        extension(OID.keyUsage, true, bits(Buffer.from([0x84]), 2)),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(
          OID.subjectAltName,
          false,
          sequence(tlv(0x82, Buffer.from('localhost')), tlv(0x87, Buffer.from([127, 0, 0, 1]))),
        ),
        extension(OID.subjectKeyIdentifier, false, octets(crypto.createHash('sha256').update(spki).digest().subarray(0, 20))),
      ),
    ),
  );
  const signature = crypto.sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const der = sequence(tbs, algorithm, bits(signature));
  const b64 = der.toString('base64');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    handshakeCert: b64.replace(/=+$/, ''),
  };
}

module.exports = { selfSignedCert };
