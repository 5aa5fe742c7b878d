// A benchmark peer for passkeyd: a minimal relying party on
// @simplewebauthn/server that speaks the subset of passkeyd's control
// protocol (control/PROTOCOL.md) and HTTP API (passkeyd/HTTP.md) that
// bench/ceremony-load.c drives, with the same durability promise: a
// finish is answered 200 only once its change (the new counter, or the
// new credential) and its audit row are committed together in SQLite
// (WAL, synchronous=FULL).  One process, one thread, like the daemon.
//
// usage: node server.mjs --listen PORT --socket PATH --db PATH
//            [--rp-id localhost] [--origin http://localhost:PORT]
//            [--begin-events on|off]
//
// Not a product: no TLS, no uid checks (no SO_PEERCRED in Node), no pages,
// no rate limits.  See README.md for what differs from passkeyd.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import process from 'node:process';

import Database from 'better-sqlite3';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';

// --- configuration ---------------------------------------------------------

const LIFETIME_S = 90;          // ceremony_timeout
const KEEP_FINAL_S = 600;       // final states remembered after expiry
const LIMIT_USER = 32;          // max_pending_per_user
const LIMIT_USER_ADDRESS = 4;   // max_pending_per_user_address
const LIMIT_ADDRESS = 16;       // max_pending_per_address
const LIMIT_TOTAL = 10000;      // max_pending_total
const BOUND_PER_CONNECTION = 4; // pending bound ceremonies per control connection
const LINE_MAX = 8192;          // control request line, without its \n
const BODY_MAX = 64 * 1024;     // HTTP JSON body
const HTTP_TIMEOUT_MS = 10000;  // http_request_timeout
const ALGS = [-7, -8, -257];    // ES256, EdDSA, RS256: passkeyd's order
const VERSION = '0.1.0-peer';

function usage(msg) {
  if (msg) process.stderr.write(`peer: ${msg}\n`);
  process.stderr.write('usage: node server.mjs --listen PORT --socket PATH --db PATH ' +
    '[--rp-id localhost] [--origin http://localhost:PORT] [--begin-events on|off]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { rpId: 'localhost', beginEvents: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const need = () => { if (v === undefined) usage(`${a} needs a value`); i++; return v; };
    switch (a) {
      case '--listen': o.port = Number(need()); break;
      case '--socket': o.socket = need(); break;
      case '--db': o.db = need(); break;
      case '--rp-id': o.rpId = need(); break;
      case '--origin': o.origin = need(); break;
      case '--begin-events': {
        const b = need();
        if (b !== 'on' && b !== 'off') usage('--begin-events is on or off');
        o.beginEvents = b === 'on';
        break;
      }
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) usage('--listen PORT');
  if (!o.socket) usage('--socket PATH');
  if (!o.db) usage('--db PATH');
  if (!o.origin) o.origin = `http://localhost:${o.port}`;
  return o;
}

const cfg = parseArgs(process.argv.slice(2));
const hostname = os.hostname();

// --- the store ---------------------------------------------------------------

const db = new Database(cfg.db, { timeout: 5000 });   // busy: wait up to 5 s
if (String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase() !== 'wal') {
  process.stderr.write('peer: cannot switch the store to WAL\n');
  process.exit(1);
}
db.pragma('synchronous = FULL');
db.exec(`
  CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    handle BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS credentials (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    public_key BLOB NOT NULL,
    counter INTEGER NOT NULL,
    created INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS credentials_user ON credentials(user);
  CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT,
    verdict TEXT,
    reason TEXT);
`);

// Prepared once; every read a step of a ceremony needs goes to SQLite, as
// passkeyd reads its store at begin, options and finish.
const sql = {
  hasCred: db.prepare('SELECT 1 FROM credentials WHERE user = ? LIMIT 1').pluck(),
  credIds: db.prepare('SELECT id FROM credentials WHERE user = ? ORDER BY created, id').pluck(),
  getCred: db.prepare('SELECT id, user, public_key, counter FROM credentials WHERE id = ?'),
  getHandle: db.prepare('SELECT handle FROM users WHERE name = ?').pluck(),
  addUser: db.prepare('INSERT OR IGNORE INTO users (name, handle) VALUES (?, ?)'),
  addCred: db.prepare('INSERT INTO credentials (id, user, public_key, counter, created) ' +
    'VALUES (?, ?, ?, ?, ?)'),
  // compare-and-set: another finish that stored a counter first wins
  setCounter: db.prepare('UPDATE credentials SET counter = ? WHERE id = ? AND counter = ?'),
  addEvent: db.prepare('INSERT INTO events (time, event, user, verdict, reason) ' +
    'VALUES (?, ?, ?, ?, ?)'),
  countCreds: db.prepare('SELECT count(*) FROM credentials').pluck(),
};

// Audit rows of what needs no durable answer (begins, failures, expiries)
// are group-committed at the end of the event-loop turn, or with the next
// approval, whichever comes first: passkeyd's journal does the same.
let eventQueue = [];
let flushScheduled = false;

function writeQueuedEvents() {
  const q = eventQueue;
  eventQueue = [];
  for (const e of q) sql.addEvent.run(e.time, e.event, e.user, e.verdict, e.reason);
}

const flushEvents = db.transaction(writeQueuedEvents);

function logEvent(event, user, verdict, reason = null) {
  eventQueue.push({ time: nowS(), event, user, verdict, reason });
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (eventQueue.length === 0) return;
      try {
        flushEvents.immediate();
      } catch (e) {
        process.stderr.write(`peer: audit rows lost: ${e.message}\n`);
      }
    });
  }
}

// The approvals: change + audit row (+ rows queued so far) in one transaction.
class StoreRefusal extends Error {}

const commitLogin = db.transaction((credId, oldCounter, newCounter, user) => {
  writeQueuedEvents();
  if (sql.setCounter.run(newCounter, credId, oldCounter).changes !== 1)
    throw new StoreRefusal('sign_count_regressed');
  sql.addEvent.run(nowS(), 'login_approved', user, 'ok', null);
});

const commitRegister = db.transaction((user, handle, cred) => {
  writeQueuedEvents();
  sql.addUser.run(user, handle);
  if (sql.getCred.get(cred.id) !== undefined) throw new StoreRefusal('credential_exists');
  sql.addCred.run(cred.id, user, Buffer.from(cred.publicKey), cred.counter, nowS());
  sql.addEvent.run(nowS(), 'register_approved', user, 'ok', null);
});

// --- ceremonies ------------------------------------------------------------

function nowS() { return Math.floor(Date.now() / 1000); }
function b64u(buf) { return Buffer.from(buf).toString('base64url'); }

const CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const TOKEN_RE = /^[A-Za-z0-9_-]{24}$/;

const ceremonies = new Map();    // token -> ceremony; insertion order = expiry order
const pendingQueue = new Map();  // token -> ceremony, only the pending ones
const pendingCount = new Map();  // 'u\0user', 'a\0addr', 'p\0user\0addr' -> n
let pendingTotal = 0;

// The key a client address is counted under (passkeyd/addrkey.c): IPv4 as
// is, IPv6 by its /64 (a v4-mapped one as IPv4), anything else (a host
// name) as written.
function addrKey(rhost) {
  if (!net.isIPv6(rhost)) return rhost;
  let s = rhost.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const o = v4.slice(1).map(Number);
    s = s.slice(0, v4.index) + ((o[0] << 8) | o[1]).toString(16) + ':' +
      ((o[2] << 8) | o[3]).toString(16);
  }
  const [head, tail] = s.split('::');
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  const g = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts]
    .map((x) => parseInt(x, 16));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  // the /64 written as inet_ntop writes it (WHATWG URL compresses alike)
  const net64 = [...g.slice(0, 4), 0, 0, 0, 0].map((x) => x.toString(16)).join(':');
  return `${new URL(`http://[${net64}]/`).hostname.slice(1, -1)}/64`;
}

function countKeys(c) {
  const keys = [`u\0${c.user}`];
  if (c.addr !== '') keys.push(`a\0${c.addr}`, `p\0${c.user}\0${c.addr}`);
  return keys;
}

function pendingOf(key) { return pendingCount.get(key) ?? 0; }

function checkLimits(user, addr) {
  if (pendingTotal >= LIMIT_TOTAL) return 'limit_total';
  if (addr !== '' && pendingOf(`p\0${user}\0${addr}`) >= LIMIT_USER_ADDRESS)
    return 'limit_user_address';
  if (addr !== '' && pendingOf(`a\0${addr}`) >= LIMIT_ADDRESS) return 'limit_address';
  if (pendingOf(`u\0${user}`) >= LIMIT_USER) return 'limit_user';
  return null;
}

function newCeremony(kind, user, rhost, service, conn) {
  const raw = crypto.randomBytes(18);
  const codeRaw = crypto.randomBytes(6);
  let code = '';
  for (let i = 0; i < 6; i++) {
    if (i === 3) code += '-';
    code += CODE_ALPHABET[codeRaw[i] & 31];
  }
  const now = nowS();
  const c = {
    token: raw.toString('base64url'),
    code,
    kind,
    user,
    rhost,
    service,
    addr: addrKey(rhost),
    challenge: crypto.randomBytes(32),
    handle: null,          // registration: the user.id offered by options
    state: 'pending',
    committing: false,     // verified or being verified: no second answer
    reason: null,
    created: now,
    expires: now + LIFETIME_S,
    conn,
  };
  if (ceremonies.has(c.token)) return null;   // 144 bits: never, but never alias
  ceremonies.set(c.token, c);
  pendingQueue.set(c.token, c);
  pendingTotal++;
  for (const k of countKeys(c)) pendingCount.set(k, pendingOf(k) + 1);
  return c;
}

function finish(c, state, reason = null) {
  if (c.state === 'pending') {
    pendingQueue.delete(c.token);
    pendingTotal--;
    for (const k of countKeys(c)) {
      const n = pendingOf(k) - 1;
      if (n > 0) pendingCount.set(k, n); else pendingCount.delete(k);
    }
  }
  c.state = state;
  c.reason = reason;
  c.committing = false;
}

function eventOf(c, what) { return `${c.kind}_${what}`; }

function refresh(c) {
  if (c.state === 'pending' && !c.committing && nowS() >= c.expires) {
    finish(c, 'expired', 'expired');
    logEvent(eventOf(c, 'expired'), c.user, 'fail', 'expired');
  }
}

// Once a second: expire what is due, forget final states KEEP_FINAL_S
// after their expiry.  Both queues are in expiry order (one lifetime for
// all), so each step costs what it removes.
setInterval(() => {
  const now = nowS();
  for (const c of pendingQueue.values()) {
    if (c.expires > now) break;
    if (c.committing) pendingQueue.delete(c.token);  // its finish decides it
    else refresh(c);
  }
  for (const c of ceremonies.values()) {
    if (c.expires + KEEP_FINAL_S > now) break;
    if (c.state === 'pending') finish(c, 'expired', 'expired');
    ceremonies.delete(c.token);
  }
}, 1000).unref();

// --- control socket --------------------------------------------------------

function refuse(error, message) {
  return { ok: false, error, message: message ?? error.replace(/_/g, ' ') };
}

function ceremonyAnswer(c) {
  return {
    ok: true,
    kind: c.kind,
    token: c.token,
    url: `${cfg.origin}/${c.kind === 'login' ? 'l' : 'r'}/${c.token}`,
    code: c.code,
    expires_in: c.expires - nowS(),
  };
}

// What passkeyd accepts as text: no control or bidi-override characters.
// eslint-disable-next-line no-control-regex
const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function safeText(s, min, max) {
  return typeof s === 'string' && !UNSAFE_RE.test(s) &&
    Buffer.byteLength(s) >= min && Buffer.byteLength(s) <= max;
}

function opLoginBegin(req, conn) {
  const { user, rhost, service, enroll = 'none', bind = true } = req;
  if (!safeText(user, 1, 64) || user.includes('/') ||
      !safeText(rhost, 0, 255) || rhost.includes(' ') ||
      !safeText(service, 1, 64) || /[ /]/.test(service) ||
      typeof bind !== 'boolean' || !['none', 'pending', 'after-auth'].includes(enroll))
    return refuse('bad_request');
  // bound: cancelled when this connection closes (PROTOCOL.md `bind`)
  if (bind) {
    for (const c of conn.bound) if (c.state !== 'pending') conn.bound.delete(c);
    if (conn.bound.size >= BOUND_PER_CONNECTION) {
      logEvent('login_begin', user, 'refused', 'limit_connection');
      return refuse('limit_connection');
    }
  }
  let kind = 'login';
  if (sql.hasCred.get(user) === undefined) {
    // no pending enrollments in the peer: "pending" finds none
    if (enroll !== 'after-auth') {
      logEvent('login_begin', user, 'refused', 'no_passkey');
      return refuse('no_passkey');
    }
    kind = 'register';
  }
  const err = checkLimits(user, addrKey(rhost));
  if (err) {
    logEvent('login_begin', user, 'refused', err);
    return refuse(err);
  }
  const c = newCeremony(kind, user, rhost, service, bind ? conn : null);
  if (c === null) return refuse('internal_error');
  if (bind) conn.bound.add(c);
  if (cfg.beginEvents) logEvent(kind === 'login' ? 'login_begin' : 'register_begin', user, 'ok');
  return ceremonyAnswer(c);
}

function findCeremony(req) {
  if (typeof req.token !== 'string') return [null, refuse('bad_request')];
  const c = TOKEN_RE.test(req.token) ? ceremonies.get(req.token) : undefined;
  if (c === undefined) return [null, refuse('unknown_ceremony')];
  return [c, null];
}

function opStatus(req) {
  const [c, err] = findCeremony(req);
  if (err) return err;
  refresh(c);
  let state = c.state;
  if (state === 'approved') c.state = 'used';   // the first one consumes it
  const out = { ok: true, state, expires_in: Math.max(c.expires - nowS(), 0) };
  if (state === 'failed' && c.reason) out.reason = c.reason;
  return out;
}

function opCancel(req) {
  const [c, err] = findCeremony(req);
  if (err) return err;
  cancel(c, 'cancelled');
  return { ok: true, state: c.state };
}

function cancel(c, why) {
  refresh(c);
  if (c.state !== 'pending' || c.committing) return;
  finish(c, 'cancelled', why);
  logEvent(eventOf(c, 'cancelled'), c.user, 'fail', why);
}

function dispatch(req, conn) {
  switch (req.op) {
    case 'login_begin': return opLoginBegin(req, conn);
    case 'status': return opStatus(req);
    case 'cancel': return opCancel(req);
    case 'ping': return { ok: true, version: VERSION };
    default: return refuse('bad_request');
  }
}

function serveControl(sock) {
  const conn = { bound: new Set(), closed: false };
  let buf = '';
  sock.setEncoding('utf8');
  const fatal = () => {
    conn.closed = true;
    sock.end(JSON.stringify(refuse('bad_request')) + '\n');
  };
  sock.on('data', (chunk) => {
    if (conn.closed) return;
    buf += chunk;
    const out = [];
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let req;
      try {
        if (Buffer.byteLength(line) > LINE_MAX) throw new Error('long');
        req = JSON.parse(line);
        if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new Error('obj');
      } catch {
        if (out.length) sock.write(out.join(''));
        return fatal();
      }
      let answer;
      try {
        answer = dispatch(req, conn);
      } catch (e) {
        process.stderr.write(`peer: control: ${e.stack}\n`);
        answer = refuse(e.code === 'SQLITE_BUSY' ? 'store_busy' : 'internal_error');
      }
      out.push(JSON.stringify(answer) + '\n');
    }
    if (out.length) sock.write(out.join(''));
    if (Buffer.byteLength(buf) > LINE_MAX) fatal();
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    conn.closed = true;
    for (const c of conn.bound) cancel(c, 'client_gone');
    conn.bound.clear();
  });
}

// --- HTTP --------------------------------------------------------------------

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function send(res, status, type, body) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res, status, obj) {
  send(res, status, 'application/json', JSON.stringify(obj));
}

function sendState(res, status, state, error) {
  sendJson(res, status, error ? { state, error } : { state });
}

// A final ceremony's answer: 410 with its state ("used" once approved).
function sendFinal(res, c) {
  const state = c.state === 'approved' ? 'used' : c.state;
  sendState(res, 410, state, c.state === 'failed' ? c.reason : null);
}

function timeoutMs(c) {
  return Math.max((c.expires - nowS()) * 1000, 1000);
}

async function apiOptions(res, c) {
  let publicKey;
  if (c.kind === 'login') {
    publicKey = await generateAuthenticationOptions({
      rpID: cfg.rpId,
      allowCredentials: sql.credIds.all(c.user).map((id) => ({ id })),
      userVerification: 'preferred',
      challenge: c.challenge,
      timeout: timeoutMs(c),
    });
  } else {
    // the user's handle, or a fresh one written only with the credential
    if (c.handle === null) c.handle = sql.getHandle.get(c.user) ?? crypto.randomBytes(32);
    publicKey = await generateRegistrationOptions({
      rpName: 'passkeyd bench peer',
      rpID: cfg.rpId,
      userName: c.user,
      userDisplayName: c.user,
      userID: new Uint8Array(c.handle),
      challenge: c.challenge,
      timeout: timeoutMs(c),
      attestationType: 'none',
      excludeCredentials: sql.credIds.all(c.user).map((id) => ({ id })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      supportedAlgorithmIDs: ALGS,
    });
  }
  sendJson(res, 200, {
    state: 'pending',
    kind: c.kind,
    user: c.user,
    host: hostname,
    rhost: c.rhost,
    service: c.service,
    created: new Date(c.created * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    expires_in: c.expires - nowS(),
    code: c.code,
    publicKey,
  });
}

// One verification attempt per challenge: any refusal ends the ceremony.
class Refusal extends Error {}

async function verifyLogin(c, body) {
  const credId = typeof body.rawId === 'string' ? body.rawId : body.id;
  if (typeof credId !== 'string') throw new Refusal('malformed');
  const cred = sql.getCred.get(credId);
  // a passkey of someone else proves nothing about this user
  if (cred === undefined || cred.user !== c.user) throw new Refusal('credential_not_allowed');
  const handle = sql.getHandle.get(c.user);
  const uh = body.response?.userHandle;
  if (typeof uh === 'string' && uh !== '' && (!handle || uh !== b64u(handle)))
    throw new Refusal('user_handle_mismatch');
  const v = await verifyAuthenticationResponse({
    response: body,
    expectedChallenge: b64u(c.challenge),
    expectedOrigin: cfg.origin,
    expectedRPID: cfg.rpId,
    credential: { id: cred.id, publicKey: new Uint8Array(cred.public_key), counter: cred.counter },
    requireUserVerification: false,
  });
  if (!v.verified) throw new Refusal('bad_signature');
  commitLogin(cred.id, cred.counter, v.authenticationInfo.newCounter, c.user);
}

async function verifyRegister(c, body) {
  const v = await verifyRegistrationResponse({
    response: body,
    expectedChallenge: b64u(c.challenge),
    expectedOrigin: cfg.origin,
    expectedRPID: cfg.rpId,
    requireUserVerification: false,
    supportedAlgorithmIDs: ALGS,
  });
  if (!v.verified) throw new Refusal('attestation_failed');
  if (c.handle === null) throw new Refusal('challenge_mismatch');  // no options were asked
  commitRegister(c.user, c.handle, v.registrationInfo.credential);
}

async function apiFinish(res, c, raw) {
  refresh(c);
  if (c.committing) return sendState(res, 409, 'pending', 'ceremony_in_progress');
  if (c.state !== 'pending') return sendFinal(res, c);
  c.committing = true;
  let reason = null;
  try {
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new Refusal('malformed');
    }
    if (body === null || typeof body !== 'object') throw new Refusal('malformed');
    await (c.kind === 'login' ? verifyLogin(c, body) : verifyRegister(c, body));
  } catch (e) {
    reason = e.code === 'SQLITE_BUSY' ? 'store_busy' :
      e.code?.startsWith?.('SQLITE_') ? 'store_error' : e.message || 'failed';
  }
  if (reason === null) {
    finish(c, 'approved');
    return sendState(res, 200, 'approved');
  }
  finish(c, 'failed', reason);
  logEvent(eventOf(c, 'failed'), c.user, 'fail', reason);
  return sendState(res, 400, 'failed', reason);
}

async function handleApi(req, res, raw) {
  if (req.headers.origin !== cfg.origin)
    return sendState(res, 403, 'error', 'origin_not_allowed');
  const m = /^\/api\/([^/]*)\/([a-z]+)$/.exec(req.url);
  const c = m && TOKEN_RE.test(m[1]) ? ceremonies.get(m[1]) : undefined;
  if (c === undefined) return sendState(res, 404, 'unknown');
  const op = m[2];
  if (op === 'finish') return apiFinish(res, c, raw);
  refresh(c);
  if (c.state !== 'pending') return sendFinal(res, c);
  switch (op) {
    case 'options':
      return apiOptions(res, c);
    case 'deny':
      if (c.committing) return sendState(res, 409, 'pending', 'ceremony_in_progress');
      finish(c, 'denied', 'denied');
      logEvent(eventOf(c, 'denied'), c.user, 'deny', 'denied');
      return sendState(res, 200, 'denied');
    case 'cancel':
      return sendState(res, 200, 'pending');
    default:
      return sendState(res, 404, 'unknown');
  }
}

function onRequest(req, res) {
  if (req.method === 'GET' && req.url === '/healthz')
    return send(res, 200, 'text/plain; charset=utf-8', 'ok');
  if (req.method !== 'POST' || !req.url.startsWith('/api/'))
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (d) => {
    size += d.length;
    if (size > BODY_MAX) tooLarge = true;
    else chunks.push(d);
  });
  req.on('end', () => {
    if (tooLarge) return sendState(res, 413, 'error', 'request_too_large');
    handleApi(req, res, Buffer.concat(chunks).toString('utf8')).catch((e) => {
      process.stderr.write(`peer: http: ${e.stack}\n`);
      if (!res.headersSent) sendState(res, 500, 'error', 'internal_error');
    });
  });
}

// --- start -------------------------------------------------------------------

const httpServer = http.createServer({
  keepAlive: true,
  requestTimeout: HTTP_TIMEOUT_MS,
  headersTimeout: HTTP_TIMEOUT_MS,
}, onRequest);
httpServer.keepAliveTimeout = HTTP_TIMEOUT_MS;

const ctlServer = net.createServer(serveControl);

// a stale socket from an earlier run; never anything else
try {
  if (fs.lstatSync(cfg.socket).isSocket()) fs.unlinkSync(cfg.socket);
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}

let ready = 0;
function up() {
  if (++ready < 2) return;
  process.stderr.write(`peer: ${sql.countCreds.get()} credentials in ${cfg.db}\n`);
  process.stdout.write(`peer: listening on ${cfg.port}, socket ${cfg.socket}\n`);
}

function stop() {
  ctlServer.close();
  httpServer.close();
  httpServer.closeAllConnections?.();
  try { if (eventQueue.length) flushEvents.immediate(); } catch { /* going anyway */ }
  try { db.close(); } catch { /* going anyway */ }
  try { fs.unlinkSync(cfg.socket); } catch { /* gone already */ }
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

for (const s of [httpServer, ctlServer])
  s.on('error', (e) => {
    process.stderr.write(`peer: ${e.message}\n`);
    process.exit(1);
  });
httpServer.listen(cfg.port, '127.0.0.1', up);
ctlServer.listen(cfg.socket, () => {
  fs.chmodSync(cfg.socket, 0o666);
  up();
});
