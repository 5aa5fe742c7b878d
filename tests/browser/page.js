// Page-side helpers for tests/browser/capture.mjs.
//
// window.doCreate(optionsJSON) / window.doGet(optionsJSON) take
// PublicKeyCredentialCreationOptionsJSON / PublicKeyCredentialRequestOptionsJSON
// (WebAuthn Level 3 JSON form, binary members as unpadded base64url), run the
// ceremony and resolve to {ok: true, credential: <credential.toJSON()>, native: {...}}
// or {ok: false, error: "Name: message"}.
'use strict';

(function () {
  function b64urlToBuf(s) {
    if (typeof s !== 'string') throw new TypeError('expected base64url string');
    let b = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b.length % 4) b += '=';
    const bin = atob(b);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    if (buf === null || buf === undefined) return buf;
    const u8 = buf instanceof ArrayBuffer ? new Uint8Array(buf)
      : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let bin = '';
    for (let i = 0; i < u8.length; i++) bin += String.fromCharCode(u8[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptorsFromJSON(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: b64urlToBuf(d.id) }));
  }

  // Fallbacks used only when the browser lacks the static parse*FromJSON methods.
  function creationFromJSON(o) {
    const r = Object.assign({}, o);
    r.challenge = b64urlToBuf(o.challenge);
    r.user = Object.assign({}, o.user, { id: b64urlToBuf(o.user.id) });
    if (o.excludeCredentials) r.excludeCredentials = descriptorsFromJSON(o.excludeCredentials);
    return r;
  }

  function requestFromJSON(o) {
    const r = Object.assign({}, o);
    r.challenge = b64urlToBuf(o.challenge);
    if (o.allowCredentials) r.allowCredentials = descriptorsFromJSON(o.allowCredentials);
    return r;
  }

  // Fallback used only when PublicKeyCredential.prototype.toJSON is missing.
  function credentialToJSON(cred) {
    const resp = cred.response;
    const out = {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      response: { clientDataJSON: bufToB64url(resp.clientDataJSON) },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
    if (cred.authenticatorAttachment !== undefined) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (resp.attestationObject !== undefined) {
      out.response.attestationObject = bufToB64url(resp.attestationObject);
      if (resp.getAuthenticatorData) out.response.authenticatorData = bufToB64url(resp.getAuthenticatorData());
      if (resp.getTransports) out.response.transports = resp.getTransports();
      if (resp.getPublicKey) {
        const pk = resp.getPublicKey();
        if (pk) out.response.publicKey = bufToB64url(pk);
      }
      if (resp.getPublicKeyAlgorithm) out.response.publicKeyAlgorithm = resp.getPublicKeyAlgorithm();
    } else {
      out.response.authenticatorData = bufToB64url(resp.authenticatorData);
      out.response.signature = bufToB64url(resp.signature);
      if (resp.userHandle) out.response.userHandle = bufToB64url(resp.userHandle);
    }
    return out;
  }

  async function run(kind, optionsJSON) {
    const native = { parseFromJSON: false, toJSON: false };
    try {
      const PKC = window.PublicKeyCredential;
      if (!PKC) throw new Error('PublicKeyCredential not available (insecure context?)');
      let publicKey;
      if (kind === 'create') {
        if (typeof PKC.parseCreationOptionsFromJSON === 'function') {
          publicKey = PKC.parseCreationOptionsFromJSON(optionsJSON);
          native.parseFromJSON = true;
        } else {
          publicKey = creationFromJSON(optionsJSON);
        }
      } else {
        if (typeof PKC.parseRequestOptionsFromJSON === 'function') {
          publicKey = PKC.parseRequestOptionsFromJSON(optionsJSON);
          native.parseFromJSON = true;
        } else {
          publicKey = requestFromJSON(optionsJSON);
        }
      }
      const cred = kind === 'create'
        ? await navigator.credentials.create({ publicKey })
        : await navigator.credentials.get({ publicKey });
      if (!cred) throw new Error('credentials.' + kind + '() returned null');
      let json;
      if (typeof cred.toJSON === 'function') {
        json = cred.toJSON();
        native.toJSON = true;
      } else {
        json = credentialToJSON(cred);
      }
      return { ok: true, credential: json, native };
    } catch (e) {
      return { ok: false, error: (e && e.name ? e.name + ': ' : '') + (e && e.message ? e.message : String(e)), native };
    }
  }

  window.doCreate = (optionsJSON) => run('create', optionsJSON);
  window.doGet = (optionsJSON) => run('get', optionsJSON);
})();
