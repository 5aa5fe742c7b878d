"""A WebAuthn software authenticator and client for tests.

It answers the daemon's PublicKeyCredentialCreationOptionsJSON /
PublicKeyCredentialRequestOptionsJSON with a PublicKeyCredential in the
WebAuthn Level 3 JSON form (credential.toJSON(): binary members base64url
without padding), the same form passkeyd/web/passkey.js POSTs to
/api/TOKEN/finish.  No browser, no CTAP: the authenticator data, COSE key,
attestation object and signatures are made here with python3-cryptography.

    auth = SoftAuthenticator()                       # ES256, fmt "none", UV
    st, j = register(d.origin, token, auth)          # options + finish
    st, j = login(d.origin, token, auth, sign_count=5)

Test code: it does what it is told, including wrong things (keyword
overrides) so that tests can provoke each refusal of the relying party.
"""
import base64
import datetime
import hashlib
import http.client
import json
import os
import struct
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ES256, EDDSA, RS256 = -7, -8, -257

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT, FLAG_ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

OID_FIDO_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


class AuthenticatorError(Exception):
    """What a browser would report as a DOMException (name in .name)."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name


# --- encodings ------------------------------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError("integer too large for CBOR")


def cbor(v):
    """A minimal canonical CBOR encoder (CTAP2 order: map keys sorted by the
    length, then the bytes, of their encoding)."""
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)):
        return _head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        items = sorted(((cbor(k), cbor(x)) for k, x in v.items()),
                       key=lambda kv: (len(kv[0]), kv[0]))
        return _head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError(f"cannot CBOR-encode {type(v).__name__}")


# --- keys -----------------------------------------------------------------

def generate_key(alg):
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported COSE algorithm {alg}")


def cose_key(key, alg):
    """The COSE_Key of a private key's public half."""
    pub = key.public_key()
    if alg == ES256:
        n = pub.public_numbers()
        return cbor({1: 2, 3: ES256, -1: 1, -2: n.x.to_bytes(32, "big"),
                     -3: n.y.to_bytes(32, "big")})
    if alg == EDDSA:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cbor({1: 1, 3: EDDSA, -1: 6, -2: raw})
    if alg == RS256:
        n = pub.public_numbers()
        return cbor({1: 3, 3: RS256, -1: n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"),
                     -2: n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")})
    raise ValueError(f"unsupported COSE algorithm {alg}")


def sign(key, alg, data):
    """A WebAuthn signature: DER ECDSA for ES256, raw for EdDSA, PKCS#1 v1.5 for RS256."""
    if alg == ES256:
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if alg == EDDSA:
        return key.sign(data)
    if alg == RS256:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(f"unsupported COSE algorithm {alg}")


def spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


# --- attestation certificates ----------------------------------------------

def make_attestation_chain(aaguid=None, days=1, leaf_subject=None, ca_name="Soft Attestation CA"):
    """A CA and a packed attestation certificate (WebAuthn L3 §8.2.1) it signed.

    Returns (ca_cert, ca_key, leaf_cert, leaf_key), cryptography objects, all
    P-256.  With aaguid the leaf carries id-fido-gen-ce-aaguid (non-critical).
    Write ca_cert.public_bytes(serialization.Encoding.PEM) to a trust anchor
    file; give leaf_key and [leaf_cert] to SoftAuthenticator(attestation="packed").
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_dn = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ssh-passkeys tests"),
                       x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (x509.CertificateBuilder().subject_name(ca_dn).issuer_name(ca_dn)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_dn = leaf_subject or x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ssh-passkeys tests"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Soft Authenticator")])
    b = (x509.CertificateBuilder().subject_name(leaf_dn).issuer_name(ca_dn)
         .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        False))
    if aaguid is not None:
        # the extension's value is an OCTET STRING holding the AAGUID
        b = b.add_extension(x509.UnrecognizedExtension(
            OID_FIDO_AAGUID, b"\x04\x10" + bytes(aaguid)), critical=False)
    leaf = b.sign(ca_key, hashes.SHA256())
    return ca, ca_key, leaf, leaf_key


# --- the authenticator ----------------------------------------------------

class Credential:
    def __init__(self, cred_id, key, alg, rp_id, user_handle, sign_count):
        self.id = cred_id
        self.key = key
        self.alg = alg
        self.rp_id = rp_id
        self.user_handle = user_handle
        self.sign_count = sign_count

    def __repr__(self):
        return f"Credential(id={b64u(self.id)}, alg={self.alg}, rp_id={self.rp_id!r}, " \
               f"sign_count={self.sign_count})"


class SoftAuthenticator:
    """A software authenticator plus the client (browser) half of WebAuthn.

    alg: -7 ES256, -8 EdDSA, -257 RS256.
    attestation: "none"; "self" (packed, signed by the credential key);
      "packed" (full: attestation_key signs, attestation_certs is x5c, leaf
      first, cryptography Certificate objects or DER bytes).
    sign_count: the counter of a new credential; counter_step: how much each
      assertion adds (default 1 when sign_count > 0, else 0: a passkey that
      always says 0).
    uv/up/be/bs: the flags it sets.  Keyword arguments of create() and get()
    override any of these for one call.
    """

    def __init__(self, alg=ES256, aaguid=bytes(16), sign_count=0, uv=True, up=True,
                 be=False, bs=False, attestation="none", attestation_key=None,
                 attestation_certs=None, counter_step=None, cred_id_len=32,
                 attachment="cross-platform"):
        if attestation not in ("none", "self", "packed"):
            raise ValueError("attestation is none, self or packed")
        if attestation == "packed" and (attestation_key is None or not attestation_certs):
            raise ValueError("packed attestation needs attestation_key and attestation_certs")
        self.alg = alg
        self.aaguid = bytes(aaguid)
        self.sign_count = sign_count
        self.counter_step = counter_step
        self.uv, self.up, self.be, self.bs = uv, up, be, bs
        self.attestation = attestation
        self.attestation_key = attestation_key
        self.attestation_certs = attestation_certs or []
        self.cred_id_len = cred_id_len
        self.attachment = attachment
        self.credentials = []

    # -- helpers
    def _flags(self, o, at=False):
        f = 0
        if o.get("up", self.up):
            f |= FLAG_UP
        if o.get("uv", self.uv):
            f |= FLAG_UV
        if o.get("be", self.be):
            f |= FLAG_BE
        if o.get("bs", self.bs):
            f |= FLAG_BS
        if at:
            f |= FLAG_AT
        return o.get("flags", f)

    @staticmethod
    def _client_data(typ, challenge, origin, o):
        cd = {"type": o.get("type", typ), "challenge": o.get("challenge", challenge),
              "origin": o.get("client_origin", origin), "crossOrigin": False}
        cd.update(o.get("client_data_extra", {}))
        return json.dumps(cd, separators=(",", ":")).encode()

    @staticmethod
    def _unwrap(options):
        if isinstance(options, (str, bytes)):
            options = json.loads(options)
        return options.get("publicKey", options)

    @staticmethod
    def _rp_id(pk_rp_id, origin):
        return pk_rp_id or urllib.parse.urlsplit(origin).hostname

    def _attestation_statement(self, fmt, alg, key, auth_data, cdh):
        if fmt == "none":
            return {}
        if fmt == "self":
            return {"alg": alg, "sig": sign(key, alg, auth_data + cdh)}
        ders = [c if isinstance(c, (bytes, bytearray))
                else c.public_bytes(serialization.Encoding.DER) for c in self.attestation_certs]
        akey = self.attestation_key
        aalg = ES256 if isinstance(akey, ec.EllipticCurvePrivateKey) else \
            EDDSA if isinstance(akey, ed25519.Ed25519PrivateKey) else RS256
        return {"alg": aalg, "sig": sign(akey, aalg, auth_data + cdh), "x5c": ders}

    # -- navigator.credentials.create()
    def create(self, options_json, origin, **o):
        """Registration. options_json: PublicKeyCredentialCreationOptionsJSON
        (or the daemon's whole options answer). Overrides: alg, uv, up, be,
        bs, flags, sign_count, attestation, aaguid, cred_id, rp_id,
        check_params (default True: refuse, as a browser does, when alg is
        not offered in pubKeyCredParams), type, challenge, client_origin,
        client_data_extra."""
        pk = self._unwrap(options_json)
        alg = o.get("alg", self.alg)
        offered = [p.get("alg") for p in pk.get("pubKeyCredParams", [])
                   if p.get("type") == "public-key"]
        if o.get("check_params", True) and offered and alg not in offered:
            raise AuthenticatorError("NotSupportedError", f"alg {alg} not in {offered}")
        rp_id = o.get("rp_id", self._rp_id(pk.get("rp", {}).get("id"), origin))
        excluded = {b64u_decode(c["id"]) for c in pk.get("excludeCredentials", [])}
        if any(c.id in excluded and c.rp_id == rp_id for c in self.credentials):
            raise AuthenticatorError("InvalidStateError", "already registered here")
        key = generate_key(alg)
        cred_id = o.get("cred_id", os.urandom(self.cred_id_len))
        count = o.get("sign_count", self.sign_count)
        cose = cose_key(key, alg)
        auth_data = (hashlib.sha256(rp_id.encode()).digest() +
                     bytes([self._flags(o, at=True)]) + struct.pack(">I", count) +
                     bytes(o.get("aaguid", self.aaguid)) + struct.pack(">H", len(cred_id)) +
                     cred_id + cose)
        cdj = self._client_data("webauthn.create", pk["challenge"], origin, o)
        fmt = o.get("attestation", self.attestation)
        stmt = self._attestation_statement(fmt, alg, key, auth_data,
                                           hashlib.sha256(cdj).digest())
        att_obj = cbor({"fmt": "none" if fmt == "none" else "packed",
                        "attStmt": stmt, "authData": auth_data})
        user = pk.get("user", {})
        handle = b64u_decode(user["id"]) if "id" in user else None
        self.credentials.append(Credential(cred_id, key, alg, rp_id, handle, count))
        return {
            "id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "response": {
                "clientDataJSON": b64u(cdj),
                "attestationObject": b64u(att_obj),
                "authenticatorData": b64u(auth_data),
                "transports": ["usb"],
                "publicKey": b64u(spki(key)),
                "publicKeyAlgorithm": alg,
            },
            "clientExtensionResults": {},
        }

    # -- navigator.credentials.get()
    def get(self, options_json, origin, credential_id=None, **o):
        """Authentication. options_json: PublicKeyCredentialRequestOptionsJSON
        (or the daemon's whole options answer). Picks credential_id, or the
        first held credential in allowCredentials (any for this RP ID when
        the list is empty). Overrides: sign_count (the counter to send; also
        stored), uv, up, be, bs, flags, user_handle (None: omit), rp_id,
        type, challenge, client_origin, client_data_extra, signature."""
        pk = self._unwrap(options_json)
        rp_id = o.get("rp_id", self._rp_id(pk.get("rpId"), origin))
        allowed = [b64u_decode(c["id"]) for c in pk.get("allowCredentials", [])]
        cred = None
        for c in self.credentials:
            if credential_id is not None:
                if c.id == bytes(credential_id):
                    cred = c
                    break
            elif c.rp_id == rp_id and (not allowed or c.id in allowed):
                cred = c
                break
        if cred is None:
            raise AuthenticatorError("NotAllowedError", "no matching credential")
        if "sign_count" in o:
            cred.sign_count = o["sign_count"]
        else:
            step = self.counter_step
            if step is None:
                step = 1 if cred.sign_count > 0 else 0
            cred.sign_count += step
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags(o)]) +
                     struct.pack(">I", cred.sign_count))
        cdj = self._client_data("webauthn.get", pk["challenge"], origin, o)
        sig = o.get("signature") or sign(cred.key, cred.alg,
                                         auth_data + hashlib.sha256(cdj).digest())
        resp = {"clientDataJSON": b64u(cdj), "authenticatorData": b64u(auth_data),
                "signature": b64u(sig)}
        handle = o.get("user_handle", cred.user_handle)
        if handle is not None:
            resp["userHandle"] = b64u(handle)
        return {"id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
                "authenticatorAttachment": self.attachment, "response": resp,
                "clientExtensionResults": {}}


# --- the daemon's HTTP API ------------------------------------------------

def api(origin, token, op, body=b"{}", host="127.0.0.1", timeout=10, port=None):
    """POST /api/TOKEN/op to the daemon serving origin (plain HTTP), with
    that Origin header; port: one instance of several serving the origin.
    Returns (HTTP status, answer JSON)."""
    u = urllib.parse.urlsplit(origin)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c = http.client.HTTPConnection(host, port or u.port or 80, timeout=timeout)
    try:
        c.request("POST", f"/api/{token}/{op}", body=body,
                  headers={"Content-Type": "application/json", "Origin": origin})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, {"raw": data.decode(errors="replace")}


def _ceremony(method, origin, token, auth, kw):
    st, opt = api(origin, token, "options")
    if st != 200 or opt.get("state") != "pending":
        return st, opt
    try:
        resp = method(opt["publicKey"], origin, **kw)
    except AuthenticatorError as e:
        return 0, {"state": "client_error", "error": e.name, "message": str(e)}
    return api(origin, token, "finish", json.dumps(resp))


def register(origin, token, auth, **kw):
    """Registration through the daemon: options, auth.create(), finish.
    Returns (status, json) of finish (of options when that failed; status 0
    with state "client_error" when the authenticator refused)."""
    return _ceremony(auth.create, origin, token, auth, kw)


def login(origin, token, auth, **kw):
    """Login through the daemon: options, auth.get(), finish."""
    return _ceremony(auth.get, origin, token, auth, kw)


def options(origin, token):
    """The daemon's options answer: (status, json)."""
    return api(origin, token, "options")
