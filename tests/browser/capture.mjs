#!/usr/bin/env node
// tests/browser/capture.mjs - capture real WebAuthn ceremonies from headless Chromium.
//
// Usage:  node tests/browser/capture.mjs [--out DIR] [--chromium PATH]
//         (DIR defaults to tests/data/browser; PATH defaults to $CHROMIUM or /usr/bin/chromium)
//
// Serves tests/browser/page.html on http://localhost:PORT/ (bound to 127.0.0.1, ephemeral
// port), drives Chromium through playwright-core with a CDP WebAuthn virtual authenticator,
// runs the registration / authentication cases below and writes one JSON file per ceremony
// in the shape of the W3C vector files (see tests/browser/README.md). All network traffic
// stays on loopback: every other host name is mapped to NOTFOUND.
//
// Exit status: 0 on success, non-zero on any failure (including the overall watchdog).

import http from 'node:http';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumArgs } from './chromium-args.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const WATCHDOG_MS = 60_000;
const CEREMONY_TIMEOUT_MS = 10_000;
const RP_ID = 'localhost';
const RP_NAME = 'ssh-passkeys test';

// ---------------------------------------------------------------- arguments

function usage(code) {
  const msg = 'usage: node tests/browser/capture.mjs [--out DIR] [--chromium PATH]\n' +
    '  --out DIR        output directory (default: tests/data/browser)\n' +
    '  --chromium PATH  Chromium executable (default: $CHROMIUM or /usr/bin/chromium)\n';
  (code ? process.stderr : process.stdout).write(msg);
  process.exit(code);
}

function parseArgs(argv) {
  const a = {
    out: path.join(REPO_ROOT, 'tests', 'data', 'browser'),
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    if (k === '--out') a.out = path.resolve(next());
    else if (k.startsWith('--out=')) a.out = path.resolve(k.slice(6));
    else if (k === '--chromium') a.chromium = next();
    else if (k.startsWith('--chromium=')) a.chromium = k.slice(11);
    else if (k === '-h' || k === '--help') usage(0);
    else { process.stderr.write(`unknown argument: ${k}\n`); usage(2); }
  }
  return a;
}

// ---------------------------------------------------------------- encoding helpers

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const fromB64url = (s) => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`not unpadded base64url: ${s}`);
  return Buffer.from(s, 'base64url');
};
const hex = (buf) => Buffer.from(buf).toString('hex');

// Minimal CBOR (RFC 8949) decoder: definite lengths only, which is all CTAP2 canonical
// CBOR uses. Maps decode to JS Map (keys may be ints). Returns {value, end}.
function cborDecode(buf, pos = 0) {
  if (pos >= buf.length) throw new Error('CBOR: truncated');
  const ib = buf[pos++];
  const major = ib >> 5;
  const ai = ib & 0x1f;
  let arg;
  if (ai < 24) arg = ai;
  else if (ai === 24) { arg = buf.readUInt8(pos); pos += 1; }
  else if (ai === 25) { arg = buf.readUInt16BE(pos); pos += 2; }
  else if (ai === 26) { arg = buf.readUInt32BE(pos); pos += 4; }
  else if (ai === 27) {
    const big = buf.readBigUInt64BE(pos); pos += 8;
    if (major !== 7 && big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('CBOR: integer too large');
    arg = major === 7 ? big : Number(big);
  } else throw new Error(`CBOR: unsupported additional info ${ai} (indefinite length?)`);
  const need = (n) => { if (pos + n > buf.length) throw new Error('CBOR: truncated'); };
  switch (major) {
    case 0: return { value: arg, end: pos };
    case 1: return { value: -1 - arg, end: pos };
    case 2: need(arg); return { value: buf.subarray(pos, pos + arg), end: pos + arg };
    case 3: need(arg); return { value: buf.subarray(pos, pos + arg).toString('utf8'), end: pos + arg };
    case 4: {
      const arr = [];
      for (let i = 0; i < arg; i++) { const r = cborDecode(buf, pos); arr.push(r.value); pos = r.end; }
      return { value: arr, end: pos };
    }
    case 5: {
      const m = new Map();
      for (let i = 0; i < arg; i++) {
        const k = cborDecode(buf, pos);
        const v = cborDecode(buf, k.end);
        if (m.has(k.value)) throw new Error(`CBOR: duplicate map key ${k.value}`);
        m.set(k.value, v.value);
        pos = v.end;
      }
      return { value: m, end: pos };
    }
    case 6: { const r = cborDecode(buf, pos); return { value: { tag: arg, value: r.value }, end: r.end }; }
    default:
      if (ai === 20) return { value: false, end: pos };
      if (ai === 21) return { value: true, end: pos };
      if (ai === 22) return { value: null, end: pos };
      if (ai === 23) return { value: undefined, end: pos };
      throw new Error(`CBOR: unsupported simple/float ${ai}`);
  }
}

function cborDecodeAll(buf) {
  const r = cborDecode(buf, 0);
  if (r.end !== buf.length) throw new Error(`CBOR: ${buf.length - r.end} trailing bytes`);
  return r.value;
}

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

// authData: rpIdHash(32) flags(1) signCount(4 BE) [aaguid(16) credIdLen(2 BE) credId COSE_Key] [extensions]
function parseAuthData(ad) {
  if (ad.length < 37) throw new Error(`authData too short (${ad.length})`);
  const out = {
    rpIdHash: ad.subarray(0, 32),
    flagsByte: ad[32],
    signCount: ad.readUInt32BE(33),
  };
  out.flags = {
    byte: '0x' + out.flagsByte.toString(16).padStart(2, '0'),
    UP: !!(out.flagsByte & FLAG.UP),
    UV: !!(out.flagsByte & FLAG.UV),
    BE: !!(out.flagsByte & FLAG.BE),
    BS: !!(out.flagsByte & FLAG.BS),
    AT: !!(out.flagsByte & FLAG.AT),
    ED: !!(out.flagsByte & FLAG.ED),
    signCount: out.signCount,
  };
  let pos = 37;
  if (out.flags.AT) {
    if (ad.length < pos + 18) throw new Error('authData: truncated attested credential data');
    out.aaguid = ad.subarray(pos, pos + 16); pos += 16;
    const idLen = ad.readUInt16BE(pos); pos += 2;
    if (ad.length < pos + idLen) throw new Error('authData: truncated credential id');
    out.credId = ad.subarray(pos, pos + idLen); pos += idLen;
    const cose = cborDecode(ad, pos);
    if (!out.flags.ED && cose.end !== ad.length) {
      throw new Error(`authData: ${ad.length - cose.end} bytes after COSE key with ED clear`);
    }
    out.coseBytes = ad.subarray(pos, cose.end);
    out.cose = cose.value;
    pos = cose.end;
  }
  if (out.flags.ED) {
    const ext = cborDecode(ad, pos);
    out.extensions = ext.value;
    out.extensionsBytes = ad.subarray(pos, ext.end);
    pos = ext.end;
  }
  if (pos !== ad.length) throw new Error(`authData: ${ad.length - pos} trailing bytes`);
  return out;
}

function mapToPlain(m) {
  if (m instanceof Map) {
    const o = {};
    for (const [k, v] of m) o[String(k)] = mapToPlain(v);
    return o;
  }
  if (Array.isArray(m)) return m.map(mapToPlain);
  if (Buffer.isBuffer(m) || m instanceof Uint8Array) return b64url(m);
  return m;
}

// Path relative to the current directory when below it, else absolute.
function displayPath(p) {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
}

function check(cond, msg) {
  if (!cond) throw new Error(`sanity check failed: ${msg}`);
}

// ---------------------------------------------------------------- cases

const CTAP2_UV = {
  protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
  hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
};
const CTAP2_NO_UV = {
  protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
  hasUserVerification: false, isUserVerified: false, automaticPresenceSimulation: true,
};
const U2F = {
  protocol: 'u2f', transport: 'usb', hasResidentKey: false,
  hasUserVerification: false, isUserVerified: false, automaticPresenceSimulation: true,
};

const ALG_NAME = { '-7': 'ES256', '-8': 'EdDSA', '-257': 'RS256' };

const CASES = [
  // ES256 is the baseline and must work; EdDSA / RS256 are skipped (with a note) if the
  // virtual authenticator refuses them.
  ...[[-7, 'es256', false], [-8, 'eddsa', true], [-257, 'rs256', true]].map(([alg, prefix, skippable]) => ({
    prefix, alg, authenticator: CTAP2_UV, attestation: 'none',
    selection: { residentKey: 'preferred', userVerification: 'required' },
    getUV: 'required', requireUV: true, auths: 2, skippable, expectFmt: 'none',
    desc: `ctap2/internal authenticator with UV, ${ALG_NAME[alg]} (${alg}), attestation none, userVerification required`,
  })),
  {
    prefix: 'es256_nouv', alg: -7, authenticator: CTAP2_NO_UV, attestation: 'none',
    selection: { residentKey: 'preferred', userVerification: 'discouraged' },
    getUV: 'discouraged', requireUV: false, auths: 1, expectFmt: 'none',
    desc: 'ctap2/internal authenticator without UV, ES256 (-7), attestation none, userVerification discouraged (UV flag clear)',
  },
  {
    prefix: 'es256_direct', alg: -7, authenticator: CTAP2_UV, attestation: 'direct',
    selection: { residentKey: 'preferred', userVerification: 'required' },
    getUV: 'required', requireUV: true, auths: 0, expectFmt: null,
    desc: 'ctap2/internal authenticator with UV, ES256 (-7), attestation direct',
  },
  {
    prefix: 'u2f', alg: -7, authenticator: U2F, attestation: 'direct',
    selection: { residentKey: 'discouraged', userVerification: 'discouraged' },
    getUV: 'discouraged', requireUV: false, auths: 1, expectFmt: 'fido-u2f',
    desc: 'U2F (CTAP1) usb authenticator, ES256 (-7), attestation direct, userVerification discouraged',
  },
];

// ---------------------------------------------------------------- run

async function startServer() {
  const files = {
    '/': ['page.html', 'text/html; charset=utf-8'],
    '/page.html': ['page.html', 'text/html; charset=utf-8'],
    '/page.js': ['page.js', 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://localhost');
    const f = files[u.pathname];
    if (req.method !== 'GET' || !f) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found\n'); return; }
    fs.readFile(path.join(HERE, f[0]), (err, body) => {
      if (err) { res.writeHead(500); res.end(String(err)); return; }
      res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}


class Capture {
  constructor(args) {
    this.args = args;
    this.records = []; // {file, obj}
    this.notes = [];
    this.skipped = [];
  }

  async ceremony(kind, options) {
    const fn = kind === 'create' ? 'doCreate' : 'doGet';
    const r = await this.page.evaluate(([f, o]) => window[f](o), [fn, options]);
    this.native = r.native;
    if (!r.ok) { const e = new Error(`${kind}() failed: ${r.error}`); e.browserError = r.error; throw e; }
    return r.credential;
  }

  async register(c) {
    const challenge = crypto.randomBytes(32);
    const userId = crypto.randomBytes(16);
    const options = {
      rp: { id: RP_ID, name: RP_NAME },
      user: { id: b64url(userId), name: `${c.prefix}@ssh-passkeys.test`, displayName: `ssh-passkeys ${c.prefix}` },
      challenge: b64url(challenge),
      pubKeyCredParams: [{ type: 'public-key', alg: c.alg }],
      timeout: CEREMONY_TIMEOUT_MS,
      attestation: c.attestation,
      authenticatorSelection: c.selection,
    };
    const json = await this.ceremony('create', options);

    // Structural checks and parsing.
    const cdj = fromB64url(json.response.clientDataJSON);
    const cd = JSON.parse(cdj.toString('utf8'));
    check(cd.type === 'webauthn.create', `clientData.type ${cd.type}`);
    check(cd.challenge === options.challenge, 'clientData.challenge mismatch');
    check(cd.origin === this.origin, `clientData.origin ${cd.origin}`);
    check(!cd.crossOrigin, 'clientData.crossOrigin set');
    const att = cborDecodeAll(fromB64url(json.response.attestationObject));
    check(att instanceof Map && typeof att.get('fmt') === 'string', 'attestationObject fmt');
    check(Buffer.isBuffer(att.get('authData')), 'attestationObject authData');
    check(att.get('attStmt') instanceof Map, 'attestationObject attStmt');
    const authData = att.get('authData');
    const ad = parseAuthData(authData);
    check(ad.rpIdHash.equals(crypto.createHash('sha256').update(RP_ID).digest()), 'rpIdHash');
    check(ad.flags.UP, 'UP flag clear');
    check(ad.flags.AT, 'AT flag clear');
    check(!c.requireUV || ad.flags.UV, 'UV flag clear but UV required');
    check(b64url(ad.credId) === json.rawId && json.id === json.rawId, 'credential id mismatch');
    check(json.response.authenticatorData === undefined || json.response.authenticatorData === b64url(authData),
      'toJSON authenticatorData differs from attestationObject authData');
    const coseAlg = ad.cose.get(3);
    check(coseAlg === c.alg, `COSE alg ${coseAlg}, expected ${c.alg}`);
    check(json.response.publicKeyAlgorithm === undefined || json.response.publicKeyAlgorithm === c.alg,
      `publicKeyAlgorithm ${json.response.publicKeyAlgorithm}`);
    const fmt = att.get('fmt');
    if (c.expectFmt) check(fmt === c.expectFmt, `fmt ${fmt}, expected ${c.expectFmt}`);
    const attStmt = att.get('attStmt');
    const x5c = attStmt.get('x5c');

    const summary = {
      fmt,
      flags: ad.flags,
      credential_id_len: ad.credId.length,
      credential_public_key_cose_b64url: b64url(ad.coseBytes),
      credential_id_b64url: b64url(ad.credId),
      rp_id_hash_hex: hex(ad.rpIdHash),
      aaguid_hex: hex(ad.aaguid),
      att_stmt_keys: [...attStmt.keys()].map(String),
      x5c_len: Array.isArray(x5c) ? x5c.length : 0,
    };
    if (attStmt.has('alg')) summary.att_stmt_alg = attStmt.get('alg');
    if (Array.isArray(x5c)) {
      summary.x5c = x5c.map((der) => {
        const cert = new crypto.X509Certificate(der);
        return {
          subject: cert.subject,
          issuer: cert.issuer,
          not_before: cert.validFrom,
          not_after: cert.validTo,
          self_signed: cert.checkIssued(cert) && cert.verify(cert.publicKey),
          pem: cert.toString(),
        };
      });
    }
    if (ad.flags.ED) summary.extensions = mapToPlain(ad.extensions);

    return { options, challenge, userId, json, cd: cdj.toString('utf8'), ad, summary, native: this.native };
  }

  async authenticate(c, reg, prevSignCount) {
    const challenge = crypto.randomBytes(32);
    const credId = reg.json.rawId;
    const options = {
      challenge: b64url(challenge),
      rpId: RP_ID,
      allowCredentials: [{ type: 'public-key', id: credId }],
      userVerification: c.getUV,
      timeout: CEREMONY_TIMEOUT_MS,
    };
    const json = await this.ceremony('get', options);
    const cdj = fromB64url(json.response.clientDataJSON);
    const cd = JSON.parse(cdj.toString('utf8'));
    check(cd.type === 'webauthn.get', `clientData.type ${cd.type}`);
    check(cd.challenge === options.challenge, 'clientData.challenge mismatch');
    check(cd.origin === this.origin, `clientData.origin ${cd.origin}`);
    check(!cd.crossOrigin, 'clientData.crossOrigin set');
    check(json.id === credId && json.rawId === credId, 'assertion credential id mismatch');
    const ad = parseAuthData(fromB64url(json.response.authenticatorData));
    check(ad.rpIdHash.equals(reg.ad.rpIdHash), 'rpIdHash');
    check(ad.flags.UP, 'UP flag clear');
    check(!ad.flags.AT, 'AT flag set on assertion');
    check(!c.requireUV || ad.flags.UV, 'UV flag clear but UV required');
    fromB64url(json.response.signature);
    if (json.response.userHandle != null) {
      check(json.response.userHandle === b64url(reg.userId), 'userHandle differs from user.id');
    }
    const summary = { flags: ad.flags };
    if (ad.flags.ED) summary.extensions = mapToPlain(ad.extensions);
    return { options, challenge, json, cd: cdj.toString('utf8'), ad, summary, prevSignCount, native: this.native };
  }

  verifierOptions(c) {
    return { require_user_verification: c.requireUV, allowed_algs: [c.alg], allow_cross_origin: false };
  }

  source() {
    return `captured by tests/browser/capture.mjs from Chromium ${this.version} virtual authenticator`;
  }

  async runCase(c) {
    const { authenticatorId } = await this.cdp.send('WebAuthn.addVirtualAuthenticator', { options: c.authenticator });
    try {
      let reg;
      try {
        reg = await this.register(c);
      } catch (e) {
        if (c.skippable && e.browserError) {
          const note = `${c.prefix}: skipped, Chromium ${this.version} virtual authenticator could not register ` +
            `${ALG_NAME[c.alg] ?? 'alg'} (${c.alg}): ${e.browserError}`;
          this.notes.push(note);
          this.skipped.push(c.prefix);
          process.stderr.write(`note: ${note}\n`);
          return;
        }
        throw e;
      }
      const auths = [];
      let prev = reg.ad.signCount;
      for (let i = 0; i < c.auths; i++) {
        const a = await this.authenticate(c, reg, prev);
        auths.push(a);
        prev = a.ad.signCount;
      }

      const { credentials } = await this.cdp.send('WebAuthn.getCredentials', { authenticatorId });
      const cred = credentials.find((x) => Buffer.from(x.credentialId, 'base64').equals(reg.ad.credId));
      check(cred && cred.privateKey, 'WebAuthn.getCredentials did not return the credential private key');
      const privateKey = Buffer.from(cred.privateKey, 'base64').toString('base64');
      // The PKCS#8 key must belong to the registered credential.
      if (reg.json.response.publicKey) {
        const spki = crypto.createPublicKey(crypto.createPrivateKey({ key: Buffer.from(privateKey, 'base64'), format: 'der', type: 'pkcs8' }))
          .export({ format: 'der', type: 'spki' });
        check(b64url(spki) === reg.json.response.publicKey, 'private key does not match registered public key');
      }

      const regFile = `${c.prefix}_reg.json`;
      const authFile = (i) => (i === 0 ? `${c.prefix}_auth.json` : `${c.prefix}_auth${i + 1}.json`);
      const uvWord = c.requireUV ? 'UV required' : 'UV not required';
      const regObj = {
        source: this.source(),
        rp_id: RP_ID,
        origin: this.origin,
        kind: 'registration',
        challenge_b64url: b64url(reg.challenge),
        response: reg.json,
        client_data_json_decoded: reg.cd,
        authenticator_summary: reg.summary,
        expect: 'ok',
        reason: `Real Chromium registration: ${c.desc}; fmt ${reg.summary.fmt}, flags ${reg.ad.flags.byte}; ${uvWord}.`,
        verifier_options: this.verifierOptions(c),
        ...(c.auths > 0 ? { pair: authFile(0) } : {}),
        private_key_pkcs8_b64: privateKey,
        user_handle_b64url: b64url(reg.userId),
        virtual_authenticator_options: c.authenticator,
        creation_options_json: reg.options,
        browser_json_api_native: reg.native,
      };
      this.records.push({ file: regFile, obj: regObj });

      auths.forEach((a, i) => {
        const obj = {
          source: this.source(),
          rp_id: RP_ID,
          origin: this.origin,
          kind: 'authentication',
          challenge_b64url: b64url(a.challenge),
          response: a.json,
          client_data_json_decoded: a.cd,
          credential: {
            id_b64url: reg.json.rawId,
            public_key_cose_b64url: b64url(reg.ad.coseBytes),
            stored_sign_count: a.prevSignCount,
            stored_backup_eligible: reg.ad.flags.BE,
            user_handle_b64url: b64url(reg.userId),
          },
          authenticator_summary: a.summary,
          pair: regFile,
          expect: 'ok',
          reason: `Real Chromium authentication #${i + 1} with the credential from ${regFile}: ${c.desc}; ` +
            `flags ${a.ad.flags.byte}, signCount ${a.ad.signCount} (stored ${a.prevSignCount}` +
            `${i > 0 ? `, from ${authFile(i - 1)}` : ''}); ${uvWord}.`,
          verifier_options: this.verifierOptions(c),
          private_key_pkcs8_b64: privateKey,
          virtual_authenticator_options: c.authenticator,
          request_options_json: a.options,
          browser_json_api_native: a.native,
        };
        this.records.push({ file: authFile(i), obj });
      });
    } finally {
      await this.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }).catch(() => {});
    }
  }

  async run() {
    this.server = await startServer();
    const port = this.server.address().port;
    this.origin = `http://localhost:${port}`;
    this.userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ssh-passkeys-chromium-'));
    this.context = await chromium.launchPersistentContext(this.userDataDir, {
      executablePath: this.args.chromium,
      args: chromiumArgs(),
      headless: true,
      timeout: 30_000,
      // Signals are handled in main(), which closes Chromium and the server in order.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const browser = this.context.browser();
    this.version = browser ? browser.version() : null;
    this.page = this.context.pages()[0] || await this.context.newPage();
    if (!this.version) {
      const s = await this.context.newCDPSession(this.page);
      const v = await s.send('Browser.getVersion');
      this.version = v.product.replace(/^[^/]*\//, '');
    }
    this.cdp = await this.context.newCDPSession(this.page);
    await this.cdp.send('WebAuthn.enable', { enableUI: false });
    await this.page.goto(`${this.origin}/`, { timeout: 15_000 });
    const env = await this.page.evaluate(() => ({
      secure: window.isSecureContext,
      hasApi: typeof window.doCreate === 'function' && typeof window.PublicKeyCredential === 'function',
    }));
    check(env.secure, 'page is not a secure context');
    check(env.hasApi, 'page helpers or PublicKeyCredential missing');

    for (const c of CASES) await this.runCase(c);
    check(this.records.length > 0, 'nothing captured');

    await fsp.mkdir(this.args.out, { recursive: true });
    for (const { file, obj } of this.records) {
      const p = path.join(this.args.out, file);
      await fsp.writeFile(p, JSON.stringify(obj, null, 2) + '\n');
      process.stdout.write(`wrote ${displayPath(p)}\n`);
    }
    // Drop files a previous run wrote for a case that was skipped this time.
    for (const prefix of this.skipped) {
      for (const f of [`${prefix}_reg.json`, `${prefix}_auth.json`, `${prefix}_auth2.json`]) {
        await fsp.rm(path.join(this.args.out, f), { force: true });
      }
    }
    const notesPath = path.join(this.args.out, 'NOTES.txt');
    if (this.notes.length) {
      await fsp.writeFile(notesPath, this.notes.join('\n') + '\n');
      process.stdout.write(`wrote ${displayPath(notesPath)}\n`);
    } else {
      await fsp.rm(notesPath, { force: true });
    }
  }

  async cleanup() {
    if (this.cleaning) return this.cleaning;
    this.cleaning = (async () => {
      if (this.context) {
        const closed = this.context.close().catch(() => {});
        const t = new Promise((r) => setTimeout(r, 10_000).unref());
        await Promise.race([closed, t]);
        const proc = this.context.browser()?.process?.();
        if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
      if (this.server) {
        this.server.closeAllConnections?.();
        await new Promise((r) => this.server.close(() => r()));
      }
      if (this.userDataDir) await fsp.rm(this.userDataDir, { recursive: true, force: true }).catch(() => {});
    })();
    return this.cleaning;
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const cap = new Capture(args);
  const t0 = Date.now();
  let status = 0;
  let aborting = false;
  const fail = (why) => {
    if (aborting) return;
    aborting = true;
    process.stderr.write(`capture: ${why}\n`);
    const hard = setTimeout(() => process.exit(1), 15_000);
    hard.unref();
    cap.cleanup().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(() => fail(`watchdog: gave up after ${WATCHDOG_MS / 1000} s`), WATCHDOG_MS);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => fail(`killed by ${sig}`));
  try {
    await cap.run();
    process.stderr.write(`capture: ${cap.records.length} files from Chromium ${cap.version} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    if (aborting) return; // fail() is already cleaning up and will exit
    process.stderr.write(`capture: ${e && e.stack ? e.stack : e}\n`);
    status = 1;
  } finally {
    clearTimeout(watchdog);
    await cap.cleanup();
  }
  process.exit(status);
}

main();
