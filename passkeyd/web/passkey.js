// passkeyd web pages: login approval (/l/TOKEN) and registration (/r/TOKEN).
// API: passkeyd/HTTP.md. Strings from the API are shown with textContent only.
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var KIND = document.body.getAttribute('data-kind') === 'register' ? 'register' : 'login';
  var REG = KIND === 'register';
  var m = /^\/[lr]\/([A-Za-z0-9_-]{1,512})\/?$/.exec(location.pathname);
  var TOKEN = m ? m[1] : null;
  var stateEl = $('state'), approveBtn = $('approve'), denyBtn = $('deny');

  var opts = null;      // the options answer
  var atLogin = false;  // a registration that a waiting login asked for
  var pending = false;  // the ceremony is pending as far as we know
  var busy = false;     // a request or ceremony is under way
  var deadline = 0;     // performance.now() at expiry
  var timer = 0;
  var AGAIN = 'Start again from your terminal.';
  var NO = REG ? 'Cancel' : 'Deny';
  var ODD = 'The server gave an unexpected answer';

  var FAIL = {
    bad_signature: 'The passkey signature did not verify.',
    challenge_mismatch: 'The answer was made for a different request.',
    origin_not_allowed: 'The server does not accept this page\u2019s address.',
    rp_id_hash_mismatch: 'The passkey belongs to a different site.',
    credential_not_allowed: 'This passkey is not registered for this user.',
    credential_exists: 'This passkey is already registered.',
    user_verification_missing: 'Your authenticator did not verify you (PIN or biometric).',
    user_presence_missing: 'The authenticator did not confirm your presence.',
    user_handle_mismatch: 'The passkey belongs to a different account.',
    sign_count_regressed: 'The authenticator\u2019s counter went backwards; the passkey may be a copy.',
    alg_not_allowed: 'The server does not allow this passkey\u2019s algorithm.',
    attestation_not_accepted: 'The server does not accept this kind of authenticator.'
  };
  var CANCEL = {
    NotAllowedError: 'The passkey prompt was closed or timed out, or no matching passkey was found.',
    InvalidStateError: REG ? 'This authenticator already holds a passkey for this account.'
      : 'The authenticator could not be used.',
    SecurityError: 'This page\u2019s address does not match the passkey\u2019s site.',
    NotSupportedError: 'Your authenticator does not support what the server asks for.',
    ConstraintError: 'Your authenticator cannot verify you (PIN or biometric) as required.'
  };

  // Control and bidi-override characters could disguise a name; show them as U+FFFD.
  function clean(s) {
    return String(s == null ? '' : s)
      .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
  }
  function setText(id, s) { var e = $(id); if (e) e.textContent = clean(s); }
  function own(o, k) { return Object.prototype.hasOwnProperty.call(o, k) && o[k]; }

  function buttons() {
    var s = stateEl.getAttribute('data-state');
    var open = pending && !busy;
    approveBtn.disabled = !(open && (s === 'ready' || s === 'cancelled'));
    denyBtn.disabled = !(open && (s === 'ready' || s === 'cancelled' || s === 'unsupported'));
  }

  function show(state, title, detail) {
    stateEl.setAttribute('data-state', state);
    $('state-title').textContent = title;
    $('state-detail').textContent = detail || '';
    buttons();
  }

  // A final state: nothing more to do on this page.
  function final(state, title, detail) {
    pending = busy = false;
    clearInterval(timer);
    $('countdown').hidden = true;
    // nothing is left to press: no greyed-out buttons, no "press Deny"
    $('actions').hidden = true;
    $('foot').hidden = true;
    show(state, title, detail);
  }
  function expired() { final('expired', 'This request has expired', AGAIN); }
  function error(detail) { final('error', 'Something went wrong', detail + ' Reload this page to try again.'); }

  function left() { return Math.max(0, deadline - performance.now()); }

  // "1:30" under an hour; "23 h 59 min" for an enrollment's day-long link.
  function duration(s) {
    if (s >= 3600) {
      return Math.floor(s / 3600) + ' h ' + ('0' + Math.floor((s % 3600) / 60)).slice(-2) + ' min';
    }
    return Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2);
  }

  // A window's length in words: "12 h", "8 h 30 min", "5 min", "45 s".
  function span(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h > 0) return h + ' h' + (m ? ' ' + m + ' min' : '');
    return m > 0 ? m + ' min' : s + ' s';
  }

  function tick() {
    var s = Math.ceil(left() / 1000);
    $('remaining').textContent = duration(s);
    var st = stateEl.getAttribute('data-state');
    if (s <= 0 && !busy && (st === 'ready' || st === 'cancelled' || st === 'unsupported')) expired();
  }

  // Shows a non-pending answer from the API.
  function answer(r) {
    var code = typeof r.error === 'string' && r.error ? clean(r.error).slice(0, 64) : 'unknown';
    switch (r.state) {
      case 'approved':
        return final('approved', REG ? 'Passkey registered' : 'Approved',
          (REG ? (atLogin ? 'Passkey registered, and your login approved.' : 'Passkey registered.')
            : 'Approved.') + ' Go back to your terminal and press Enter.');
      case 'denied':
        return final('denied', REG ? 'Registration cancelled' : 'Login denied',
          (REG ? 'No passkey was registered.' : 'The login was refused.') + ' You can close this page.');
      case 'failed':
        return final('failed', REG ? 'Registration failed' : 'Login failed', (own(FAIL, code) ||
          'The server could not verify your passkey\u2019s answer.') + ' (code: ' + code + ') ' + AGAIN);
      case 'expired': return expired();
      case 'used': return final('used', 'This link was already used', 'Each link works once. ' + AGAIN);
      case 'cancelled':
        return final('cancelled', 'Cancelled', 'The terminal stopped waiting. ' + AGAIN);
      case 'unknown':
        return final('unknown', 'This link is not valid or has expired', 'Check the whole link was opened, or ' +
          AGAIN.toLowerCase());
      case 'error': return error('The server refused the request (code: ' + code + ').');
      default: return error(ODD + '.');
    }
  }

  async function api(action, body) {
    var res = await fetch('/api/' + TOKEN + '/' + action, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}), credentials: 'same-origin', cache: 'no-store'
    });
    var j = null;
    try { j = await res.json(); } catch (e) { j = null; }
    if (!j || typeof j !== 'object' || typeof j.state !== 'string') {
      throw new Error(ODD + ' (HTTP ' + res.status + ').');
    }
    return j;
  }

  function netError(e) {
    return e && e.name === 'TypeError' ? 'Could not reach the server.' : (e && e.message) || 'Unknown error.';
  }

  // ---- base64url and the WebAuthn L3 JSON fallbacks (used when the browser lacks them)
  function fromB64u(s) {
    if (typeof s !== 'string') throw new TypeError('expected base64url');
    var b = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b.length % 4) b += '=';
    var bin = atob(b), u = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    return u.buffer;
  }
  function toB64u(buf) {
    var u = ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < u.length; i++) bin += String.fromCharCode(u[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function ids(l) { return l.map(function (d) { return Object.assign({}, d, { id: fromB64u(d.id) }); }); }
  function parseOptions(pk) {
    var P = window.PublicKeyCredential;
    if (REG && typeof P.parseCreationOptionsFromJSON === 'function') return P.parseCreationOptionsFromJSON(pk);
    if (!REG && typeof P.parseRequestOptionsFromJSON === 'function') return P.parseRequestOptionsFromJSON(pk);
    var o = Object.assign({}, pk, { challenge: fromB64u(pk.challenge) });
    if (REG) {
      o.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
      if (pk.excludeCredentials) o.excludeCredentials = ids(pk.excludeCredentials);
    } else if (pk.allowCredentials) {
      o.allowCredentials = ids(pk.allowCredentials);
    }
    return o;
  }
  function plain(v) {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toB64u(v);
    if (v && typeof v === 'object') {
      var o = Array.isArray(v) ? [] : {};
      Object.keys(v).forEach(function (k) { o[k] = plain(v[k]); });
      return o;
    }
    return v;
  }
  function serialize(c) {
    if (typeof c.toJSON === 'function') return c.toJSON();
    var r = c.response, R = { clientDataJSON: toB64u(r.clientDataJSON) };
    if (r.attestationObject) {
      R.attestationObject = toB64u(r.attestationObject);
      if (r.getAuthenticatorData) R.authenticatorData = toB64u(r.getAuthenticatorData());
      R.transports = r.getTransports ? r.getTransports() : [];
      var pkey = r.getPublicKey && r.getPublicKey();
      if (pkey) R.publicKey = toB64u(pkey);
      if (r.getPublicKeyAlgorithm) R.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    } else {
      R.authenticatorData = toB64u(r.authenticatorData);
      R.signature = toB64u(r.signature);
      if (r.userHandle) R.userHandle = toB64u(r.userHandle);
    }
    return {
      id: c.id, rawId: toB64u(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment || null,
      response: R, clientExtensionResults: plain(c.getClientExtensionResults ? c.getClientExtensionResults() : {})
    };
  }

  // ---- actions
  async function approve() {
    if (busy || !pending) return;
    var pkJSON = Object.assign({}, opts.publicKey);
    var ms = Math.floor(left());
    if (ms < 1000) return expired();
    if (!(pkJSON.timeout > 0) || pkJSON.timeout > ms) pkJSON.timeout = ms;
    busy = true;
    show('working', 'Waiting for your passkey\u2026',
      'Follow the prompt from your browser, phone or security key.');
    var pk;
    try { pk = parseOptions(pkJSON); } catch (e) {
      return error('This browser could not read the request (' + (e && e.name) + ').');
    }
    var cred;
    try {
      cred = REG ? await navigator.credentials.create({ publicKey: pk })
        : await navigator.credentials.get({ publicKey: pk });
      if (!cred) throw new DOMException('no credential', 'NotAllowedError');
    } catch (e) {
      var name = String((e && e.name) || 'Error').slice(0, 64);
      var r = null;
      try { r = await api('cancel', { error: name }); } catch (e2) { r = null; }
      busy = false;
      if (r && r.state !== 'pending') return answer(r);
      if (left() < 1000) return expired();
      return show('cancelled', 'Cancelled',
        (own(CANCEL, name) || 'The passkey request did not complete.') + ' (' + name + ') You can try again, or press ' +
        NO + '.');
    }
    show('working', 'Checking\u2026', 'The server is verifying your passkey.');
    try {
      var res = await api('finish', serialize(cred));
      busy = false;
      return res.state === 'pending' ? error(ODD + '.') : answer(res);
    } catch (e) { return error(netError(e)); }
  }

  async function deny() {
    if (busy || !pending) return;
    busy = true;
    buttons();
    try {
      var r = await api('deny', {});
      busy = false;
      if (r.state === 'pending') buttons(); else answer(r);
    } catch (e) { error(netError(e)); }
  }

  function when(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return iso || 'unknown';
    try { return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }); }
    catch (e) { return d.toLocaleString(); }
  }

  // Where the request came from, in words: the SSH client's address, or
  // what asked on the server itself.  Any account on the host can start a
  // local request (su, login, sudo with targetpw) for another user and
  // send that user the link: the page names who started it (the module's
  // requester: the caller's uid, its name, the terminal), and says when
  // that is another account; without one it says anyone could have.  A
  // root process (login(1) at a console, a display manager) names no
  // person: whoever is at its terminal, with or without an account,
  // started it, and the page says so.
  function source(r) {
    var host = r.host || 'the server';
    var q = r.requester && typeof r.requester === 'object' ? r.requester : null;
    var local = 'with an account on ' + host;
    var what, on;
    // the warning every request that names no person gets: who could have started it
    function anyone(who) { return ': anyone ' + who + ' can start one, so approve only if you did'; }
    // an address that is the host itself (passkeyd says: its loopback, its own
    // name): as local as su.  Who asked, when a person did (sudo with
    // `Defaults pam_rhost`); else anyone there could have (sshd names no person)
    if (r.rhost && !r.local) return r.rhost;
    if (r.rhost && !(q && typeof q.uid === 'number' && q.uid !== 0))
      return r.rhost + ', ' + host + ' itself' + anyone(local);
    if (r.service === 'passkeyctl') return 'the passkeyctl command, run on ' + host;
    what = r.service === 'sudo' ? 'a sudo prompt on ' + host :
      'a login on ' + host + ' itself (' + (r.service || 'unknown') + ')';
    if (!q || typeof q.uid !== 'number') return what + anyone(local);
    on = typeof q.tty === 'string' ? ' on ' + q.tty : '';
    if (q.uid === 0) return what + ', from a root process' + on + anyone('at ' + (on ? 'that terminal' : host));
    what += ', started by ' + (typeof q.name === 'string' ? q.name + ' (uid ' + q.uid + ')' : 'uid ' + q.uid) + on;
    if (q.name !== r.user) what += ', not ' + r.user + ': approve only if you know why';
    return what;
  }

  function details(r) {
    ['user', 'host'].forEach(function (k) { setText(k, r[k]); setText('lead-' + k, r[k]); });
    setText('rhost', source(r));
    // a registration that a login asked for: registering approves that login
    atLogin = REG && !!r.service && r.service !== 'passkeyctl';
    if (atLogin && $('also-login')) {
      setText('also-service', r.service);
      $('also-login').hidden = false;
    }
    // the re-approval window this approval opens: said before it is given
    if (Number(r.reuse) > 0) {
      setText('reuse', 'the same client may log in again for ' + span(Number(r.reuse)) +
        ' without asking' + (r.client_key ? ' (SSH key ' + r.client_key + ')' : ' (by its address alone)'));
      $('reuse-row').hidden = false;
    }
    setText('created', when(r.created));
    $('created').title = clean(r.created);
    setText('code', r.code);
    ['lead', 'details', 'codebox'].forEach(function (id) { $(id).hidden = false; });
  }

  async function load() {
    if (!TOKEN) return answer({ state: 'unknown' });
    var r;
    try { r = await api('options', {}); } catch (e) { return error(netError(e)); }
    if (r.state !== 'pending') return answer(r);
    if ((r.kind && r.kind !== KIND) || !r.publicKey || typeof r.publicKey !== 'object') {
      return error('This link does not match this page.');
    }
    opts = r;
    pending = true;
    deadline = performance.now() + Math.max(0, Number(r.expires_in) || 0) * 1000;
    details(r);
    $('countdown').hidden = false;
    timer = setInterval(tick, 250);
    if (!window.isSecureContext || !window.PublicKeyCredential || !navigator.credentials) {
      show('unsupported', 'Passkeys are not available here', (window.isSecureContext
        ? 'This browser does not support passkeys; try another one.' : 'This page must be opened over HTTPS.') +
        ' You can still press ' + NO + '.');
    } else {
      show('ready', 'Check the code above',
        'If it matches your terminal, press ' + (REG ? 'Register' : 'Approve') + ' and use your passkey.');
    }
    tick();
  }

  approveBtn.addEventListener('click', approve);
  denyBtn.addEventListener('click', deny);
  load();
})();
