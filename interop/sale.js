#!/usr/bin/env node
// sale.js sends one 0200 sale built by the npm package iso_8583 to an acqsim
// host (dialect iso87ascii, length header binary2), parses the answer with the
// same package and prints it on stdout as one JSON object: field numbers as
// keys, "0" the MTI. The request and response frames go to stderr in hex.
//
//   node sale.js HOST:PORT [STAN [AMOUNT]]
//
// STAN is 6 digits (default 000101), AMOUNT in minor units (default 12345).
// Every other field is fixed, so two runs with the same arguments send
// byte-identical requests: a retransmission.
//
// Exit status: 0 on a parsed response, 1 on any error, 2 on bad usage,
// 3 when no whole response came within 5 s.
//
// Two things about iso_8583 2.6.x that this script works around, both on the
// bitmap (field 1) only:
//  - By default it packs the bitmap as 16 raw binary bytes. iso87ascii (jPOS
//    ISO87APackager) wants it as ASCII hex, so field 1 is given the package's
//    own "an" content type, with which it packs 32 upper-case hex characters.
//    It always sends the secondary bitmap (bit 1 set, 16 zero characters).
//  - With { bitmapEncoding: 'utf8' } its unpacker always takes 32 characters
//    of bitmap, even when bit 1 is clear, so it misreads a response with only
//    a primary bitmap (what acqsim sends when no field above 64 is present).
//    Its default unpacker reads bit 1 correctly but wants a binary bitmap, so
//    the response's ASCII hex bitmap is turned into binary bytes first; the
//    MTI and every field are parsed by the package untouched.
'use strict';

const net = require('net');
const ISO8583 = require('iso_8583');

const TIMEOUT_MS = 5000;

function fail(code, msg) {
  process.stderr.write(`sale.js: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  if (argv.length < 1 || argv.length > 3) {
    fail(2, 'usage: node sale.js HOST:PORT [STAN [AMOUNT]]');
  }
  const addr = argv[0];
  const colon = addr.lastIndexOf(':');
  const port = Number(addr.slice(colon + 1));
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(2, `bad address ${JSON.stringify(addr)}: want HOST:PORT`);
  }
  const stan = argv[1] || '000101';
  if (!/^[0-9]{6}$/.test(stan)) fail(2, `bad STAN ${JSON.stringify(stan)}: want 6 digits`);
  const amount = argv[2] || '12345';
  if (!/^[0-9]{1,12}$/.test(amount)) fail(2, `bad amount ${JSON.stringify(amount)}: want up to 12 digits`);
  return { host, port, stan, amount: amount.padStart(12, '0') };
}

// Field 1 packed as ASCII hex, as iso87ascii wants (see above).
const customFormats = {
  '1': { ContentType: 'an', Label: 'Bitmap', LenType: 'fixed', MaxLen: 8 },
};

function buildSale(stan, amount) {
  const msg = {
    0: '0200',
    2: '4761739001010010', // PAN (LLVAR)
    3: '000000', // purchase
    4: amount,
    11: stan,
    12: '101500', // local time hhmmss
    13: '0611', // local date MMDD
    14: '2512', // expiry YYMM
    22: '021', // magnetic stripe, PIN capable
    25: '00', // normal presentment
    41: 'NPMTERM1', // 8 characters
    42: 'MERCHANT0000001', // 15 characters
    49: '840',
  };
  const iso = new ISO8583(msg, customFormats);
  const valid = iso.validateMessage();
  if (valid !== true) fail(1, `iso_8583 says the request is invalid: ${JSON.stringify(valid)}`);
  const frame = iso.getBufferMessage(); // 2-byte big-endian length + message
  if (!Buffer.isBuffer(frame)) fail(1, `iso_8583 could not pack the request: ${JSON.stringify(frame)}`);
  if (frame.length < 2 || frame.readUInt16BE(0) !== frame.length - 2) {
    fail(1, `iso_8583's length header does not match its message: ${frame.toString('hex')}`);
  }
  return frame;
}

// binaryBitmap returns the response frame with its ASCII hex bitmap (16
// characters, or 32 when bit 1 is set) as binary bytes, for the package's
// default unpacker.
function binaryBitmap(frame) {
  const body = frame.subarray(2);
  const first = body.subarray(4, 20).toString('latin1');
  if (!/^[0-9A-Fa-f]{16}$/.test(first)) {
    fail(1, `response bitmap ${JSON.stringify(first)} is not 16 hex characters`);
  }
  const n = parseInt(first[0], 16) & 8 ? 32 : 16;
  const hex = body.subarray(4, 4 + n).toString('latin1');
  if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) {
    fail(1, `response bitmap ${JSON.stringify(hex)} is not ${n} hex characters`);
  }
  const out = Buffer.concat([
    Buffer.alloc(2),
    body.subarray(0, 4),
    Buffer.from(hex, 'hex'),
    body.subarray(4 + n),
  ]);
  out.writeUInt16BE(out.length - 2, 0);
  return out;
}

function parseResponse(frame) {
  const parsed = new ISO8583().getIsoJSON(binaryBitmap(frame));
  if (!parsed || parsed.error) {
    fail(1, `iso_8583 could not parse the response: ${JSON.stringify(parsed)}`);
  }
  // A field the package read past the end of the message comes out empty:
  // the sign of a misparse, since acqsim sends no empty field.
  const empty = Object.keys(parsed).filter((k) => parsed[k] === '');
  if (empty.length > 0) {
    fail(1, `iso_8583 parsed empty field(s) ${empty.join(', ')}: ${JSON.stringify(parsed)}`);
  }
  return parsed;
}

function main() {
  const { host, port, stan, amount } = parseArgs(process.argv.slice(2));
  const request = buildSale(stan, amount);
  process.stderr.write(`sale.js: request  ${request.toString('hex')}\n`);

  const timer = setTimeout(() => fail(3, `no whole response within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  let acc = Buffer.alloc(0);
  let done = false;
  const sock = net.connect({ host, port }, () => sock.write(request));
  sock.on('data', (chunk) => {
    acc = Buffer.concat([acc, chunk]);
    if (done || acc.length < 2) return;
    const want = 2 + acc.readUInt16BE(0);
    if (acc.length < want) return;
    done = true;
    clearTimeout(timer);
    const frame = acc.subarray(0, want);
    process.stderr.write(`sale.js: response ${frame.toString('hex')}\n`);
    sock.destroy();
    const parsed = parseResponse(frame);
    process.stdout.write(JSON.stringify(parsed) + '\n');
  });
  sock.on('error', (err) => {
    if (!done) fail(1, `${host}:${port}: ${err.message}`);
  });
  sock.on('close', () => {
    if (!done) fail(1, `connection closed after ${acc.length} byte(s) of response: ${acc.toString('hex')}`);
  });
}

main();
