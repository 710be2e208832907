#!/usr/bin/env node
// sale.js sends one 0200 sale built by the npm package iso_8583 to an acqsim
// host (dialect iso87ascii, length header binary2), parses the answer with the
// same package, holds it to the package's own field checks, and prints one
// JSON object on stdout:
//
//   {"request": HEX, "response": HEX, "fields": {"0": MTI, "2": ..., ...}}
//
// request and response are the frames as sent and read (length header
// included); fields is the response as iso_8583 parsed it, field numbers as
// keys, "0" the MTI.
//
//   node sale.js [--letter FIELD] HOST:PORT [STAN [AMOUNT]]
//
// STAN is 6 digits (default 000101), AMOUNT in minor units (default 12345).
// Every other field is fixed, so two runs with the same arguments send
// byte-identical requests: a retransmission.
//
// --letter FIELD (4 or 11) sends the sale with an X in place of that field's
// last digit: a format error. iso_8583 refuses to pack a letter in an n field
// (validateMessage and getBufferMessage both say "provided data is not of
// type 'n'"), so the frame is packed from digits and the one byte that is the
// field's last digit is patched afterwards.
//
// Exit status: 0 on a response that passes the checks below, 1 on any error
// (a response that fails them included), 2 on bad usage, 3 when no whole
// response came within 5 s.
//
// A response passes when iso_8583 parses it with no field empty, its own
// validateMessage accepts the parsed fields (digits in n fields, character
// sets, fixed lengths, LL/LLL maximums), and packing those fields again gives
// back the response's bytes exactly: no field misread, none left out, no
// byte after the last field.
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
//    MTI and every field are parsed by the package untouched. Its packer
//    always sets bit 1, so the repacked response is compared with its
//    secondary bitmap taken out again when the response had none.
'use strict';

const net = require('net');
const ISO8583 = require('iso_8583');

const TIMEOUT_MS = 5000;

// The fields --letter may break, and the value each has in the sale.
const LETTER_FIELDS = ['4', '11'];

function fail(code, msg) {
  process.stderr.write(`sale.js: ${msg}\n`);
  process.exit(code);
}

function usage(msg) {
  fail(2, `${msg}\nusage: node sale.js [--letter FIELD] HOST:PORT [STAN [AMOUNT]]`);
}

function parseArgs(argv) {
  let letter = null;
  if (argv[0] === '--letter') {
    letter = argv[1];
    if (!LETTER_FIELDS.includes(letter)) usage(`--letter takes one of ${LETTER_FIELDS.join(', ')}`);
    argv = argv.slice(2);
  }
  if (argv.length < 1 || argv.length > 3) usage('want an address, and optionally a STAN and an amount');
  const addr = argv[0];
  const colon = addr.lastIndexOf(':');
  const port = Number(addr.slice(colon + 1));
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    usage(`bad address ${JSON.stringify(addr)}: want HOST:PORT`);
  }
  const stan = argv[1] || '000101';
  if (!/^[0-9]{6}$/.test(stan)) usage(`bad STAN ${JSON.stringify(stan)}: want 6 digits`);
  const amount = argv[2] || '12345';
  if (!/^[0-9]{1,12}$/.test(amount)) usage(`bad amount ${JSON.stringify(amount)}: want up to 12 digits`);
  return { host, port, stan, amount: amount.padStart(12, '0'), letter };
}

// Field 1 packed as ASCII hex, as iso87ascii wants (see above).
const customFormats = {
  '1': { ContentType: 'an', Label: 'Bitmap', LenType: 'fixed', MaxLen: 8 },
};

function saleFields(stan, amount) {
  return {
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
}

// pack packs a request with the package, after its own validation.
function pack(msg) {
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

// buildSale packs the sale; with letter, that field's last digit becomes an
// X. The package will not pack the X itself, so the field is packed ending
// in 0 and again ending in 1: the one byte where the two frames differ is
// that digit, wherever the field lies.
function buildSale(stan, amount, letter) {
  const msg = saleFields(stan, amount);
  if (!letter) return pack(msg);
  const ending = (d) => ({ ...msg, [letter]: msg[letter].slice(0, -1) + d });
  const a = pack(ending('0'));
  const b = pack(ending('1'));
  const at = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) at.push(i);
  if (a.length !== b.length || at.length !== 1) {
    fail(1, `cannot find field ${letter}'s last digit in the packed sale: ${a.toString('hex')} / ${b.toString('hex')}`);
  }
  a[at[0]] = 'X'.charCodeAt(0);
  return a;
}

// binaryBitmap returns the response frame with its ASCII hex bitmap (16
// characters, or 32 when bit 1 is set) as binary bytes, for the package's
// default unpacker, and whether the secondary bitmap was there.
function binaryBitmap(frame) {
  const body = frame.subarray(2);
  const first = body.subarray(4, 20).toString('latin1');
  if (!/^[0-9A-Fa-f]{16}$/.test(first)) {
    fail(1, `response bitmap ${JSON.stringify(first)} is not 16 hex characters`);
  }
  const secondary = (parseInt(first[0], 16) & 8) !== 0;
  const n = secondary ? 32 : 16;
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
  return { frame: out, secondary };
}

// parseResponse parses the response with the package and holds it to the
// package's field checks (see the top of the file).
function parseResponse(frame) {
  const { frame: binary, secondary } = binaryBitmap(frame);
  const parsed = new ISO8583().getIsoJSON(binary);
  if (!parsed || parsed.error) {
    fail(1, `iso_8583 could not parse the response: ${JSON.stringify(parsed)}`);
  }
  // A field the package read past the end of the message comes out empty:
  // the sign of a misparse, since acqsim sends no empty field.
  const empty = Object.keys(parsed).filter((k) => parsed[k] === '');
  if (empty.length > 0) {
    fail(1, `iso_8583 parsed empty field(s) ${empty.join(', ')}: ${JSON.stringify(parsed)}`);
  }
  const valid = new ISO8583({ ...parsed }).validateMessage();
  if (valid !== true) {
    fail(1, `iso_8583 says the response is invalid: ${JSON.stringify(valid)}: ${JSON.stringify(parsed)}`);
  }
  let repacked = new ISO8583({ ...parsed }).getBufferMessage();
  if (!Buffer.isBuffer(repacked)) {
    fail(1, `iso_8583 cannot pack the response's fields again: ${JSON.stringify(repacked)}: ${JSON.stringify(parsed)}`);
  }
  if (!secondary) {
    // Bit 1 is the top bit of the bitmap's first byte, after the length
    // header and the MTI; the 8 bytes of secondary bitmap follow the primary.
    repacked = Buffer.concat([repacked.subarray(0, 14), repacked.subarray(22)]);
    repacked[6] &= 0x7f;
    repacked.writeUInt16BE(repacked.length - 2, 0);
  }
  if (!repacked.equals(binary)) {
    fail(1, `iso_8583 packs the response's fields as\n  ${repacked.toString('hex')}\nnot as received (bitmap made binary)\n  ${binary.toString('hex')}\nparsed: ${JSON.stringify(parsed)}`);
  }
  return parsed;
}

function main() {
  const { host, port, stan, amount, letter } = parseArgs(process.argv.slice(2));
  const request = buildSale(stan, amount, letter);
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
    const fields = parseResponse(frame);
    const out = { request: request.toString('hex'), response: frame.toString('hex'), fields };
    process.stdout.write(JSON.stringify(out) + '\n');
  });
  sock.on('error', (err) => {
    if (!done) fail(1, `${host}:${port}: ${err.message}`);
  });
  sock.on('close', () => {
    if (!done) fail(1, `connection closed after ${acc.length} byte(s) of response: ${acc.toString('hex')}`);
  });
}

main();
