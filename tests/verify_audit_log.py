#!/usr/bin/env python3
"""An independent verifier of tillit's access log, written from docs/audit-format.md alone.

Standard library, plus `cryptography` (PyPI) for the signatures.

    verify_audit_log.py LOG.ndjson [--key PUBLIC.jwk.json] [--accept-legacy] [--anchor SEQ:HASH]
        [--pruned-to SEQ:HASH]

Prints the result as JSON; exits 0 when the log verifies, 1 when it does not, 2 on bad usage.
"""
import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

GENESIS = "0" * 64
KINDS = {"declaration", "event", "checkpoint", "recovery", "note"}
DECL_MEMBERS = {"format", "checkpointEvery", "checkpointKey", "legacyRecords", "logId", "created", "jws"}
ALGS = {"ES256", "RS256", "PS256"}
DECL_TYP = "tillit-declaration+jwt"
CP_TYP = "tillit-checkpoint+jwt"


class Bad(Exception):
    def __init__(self, index, problem):
        super().__init__(problem)
        self.index = index
        self.problem = problem


# RFC 8785 for what records hold: objects, arrays, strings, integers, true, false, null.
def canonical(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        raise ValueError("a record's numbers are integers")
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            o = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ch == "\b":
                out.append("\\b")
            elif ch == "\f":
                out.append("\\f")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif o < 0x20:
                out.append("\\u%04x" % o)
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(canonical(k) + ":" + canonical(v[k]) for k in keys) + "}"
    raise ValueError("not JSON")


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def thumbprint(jwk):
    if jwk.get("kty") == "EC":
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    elif jwk.get("kty") == "RSA":
        members = {k: jwk[k] for k in ("e", "kty", "n")}
    else:
        raise ValueError("unsupported key type")
    text = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(text.encode()).digest())


def public_key(jwk):
    if jwk["kty"] == "EC":
        x = int.from_bytes(b64u_decode(jwk["x"]), "big")
        y = int.from_bytes(b64u_decode(jwk["y"]), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    n = int.from_bytes(b64u_decode(jwk["n"]), "big")
    e = int.from_bytes(b64u_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def jws_holds(key, jws, typ, alg):
    """The JWS's header and claims if its signature holds with `key`, `typ` is as given and
    `alg` is the declared one (None: any supported); else None."""
    try:
        h, p, s = jws.split(".")
        header = json.loads(b64u_decode(h))
        claims = json.loads(b64u_decode(p))
        sig = b64u_decode(s)
        a = header.get("alg")
        if header.get("typ") != typ or a not in ALGS or (alg is not None and a != alg):
            return None
        data = (h + "." + p).encode()
        if a == "ES256":
            if not isinstance(key, ec.EllipticCurvePublicKey) or len(sig) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        elif a == "RS256":
            if not isinstance(key, rsa.RSAPublicKey):
                return None
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            if not isinstance(key, rsa.RSAPublicKey):
                return None
            key.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        return claims
    except (InvalidSignature, ValueError, KeyError, AttributeError, TypeError):
        return None


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def parse_declaration(i, body):
    if not isinstance(body, dict):
        raise Bad(i, "DECLARATION: the body must be an object")
    extra = set(body) - DECL_MEMBERS
    if extra:
        raise Bad(i, "DECLARATION: unknown member")
    if not is_uint(body.get("format")):
        raise Bad(i, "DECLARATION: format must be an integer")
    if body["format"] != 1:
        raise Bad(i, "FORMAT: not format 1")
    every = body.get("checkpointEvery")
    if not is_uint(every) or not 1 <= every <= 1_000_000:
        raise Bad(i, "DECLARATION: checkpointEvery")
    key = body.get("checkpointKey", "missing")
    if key is not None:
        if not (isinstance(key, dict) and set(key) == {"thumbprint", "alg"} and isinstance(key["thumbprint"], str)
                and len(key["thumbprint"]) == 43 and key["alg"] in ALGS):
            raise Bad(i, "DECLARATION: checkpointKey")
    if key is not None and "jws" not in body:
        raise Bad(i, "UNSIGNED: the declaration names a key but is not signed")
    if key is None and "jws" in body:
        raise Bad(i, "DECLARATION: jws without a key")
    if "jws" in body and not isinstance(body["jws"], str):
        raise Bad(i, "DECLARATION: jws must be a string")
    if not is_uint(body.get("legacyRecords")):
        raise Bad(i, "DECLARATION: legacyRecords")
    for k in ("logId", "created"):
        if not (isinstance(body.get(k), str) and 1 <= len(body[k]) <= 128):
            raise Bad(i, "DECLARATION: " + k)
    if body["legacyRecords"] != i:
        raise Bad(i, "DECLARATION: legacyRecords must be the records before it")
    return body


def verify(lines, jwk=None, accept_legacy=False, anchor=None, pruned=None):
    key = public_key(jwk) if jwk else None
    given = thumbprint(jwk) if jwk else None
    prev = GENESIS
    decl = None
    since = 0
    checkpoints = 0
    checked = 0
    last_signed = None
    n = len(lines)
    # A pruned log: right after its declaration it may continue at the record after the prune
    # point (or the anchor), linked to its hash; `off` is the records skipped.
    off = 0
    after_decl = False
    for j, line in enumerate(lines):
        i = j + off
        try:
            r = json.loads(line)
            if not isinstance(r, dict):
                raise ValueError
        except ValueError:
            raise Bad(i, "MALFORMED: not a JSON record")
        if not (is_uint(r.get("seq")) and all(isinstance(r.get(k), str) for k in ("prev", "kind", "hash"))):
            raise Bad(i, "MALFORMED: a record needs seq, prev, kind and hash")
        rest = {k: v for k, v in r.items() if k != "hash"}
        try:
            own = hashlib.sha256(canonical(rest).encode()).hexdigest()
        except ValueError:
            raise Bad(i, "MALFORMED: not canonical JSON")
        if own != r["hash"]:
            raise Bad(i, "ALTERED: the record does not match its own hash")
        if after_decl and off == 0 and r["seq"] > i:
            for cand in (pruned, anchor):
                if cand and cand[0] + 1 == r["seq"] and cand[1] == r["prev"]:
                    if anchor and i <= anchor[0] < cand[0]:
                        raise Bad(anchor[0], "ANCHOR_PRUNED: the anchored record was pruned")
                    off = r["seq"] - j
                    i = j + off
                    prev = cand[1]
                    since = 0
                    break
        after_decl = r["kind"] == "declaration"
        if r["seq"] != i:
            raise Bad(i, "MISSING_OR_REORDERED: seq is not the index")
        if r["prev"] != prev:
            raise Bad(max(i - 1, 0), "ALTERED: the record before was replaced")
        prev = r["hash"]
        if set(r) != {"seq", "prev", "kind", "body", "hash"} or not isinstance(r["body"], dict):
            raise Bad(i, "MALFORMED: exactly seq, prev, kind, body and hash; body an object")
        kind, body = r["kind"], r["body"]
        if kind not in KINDS:
            raise Bad(i, "MALFORMED: unknown kind")
        if anchor and anchor[0] == i and anchor[1] != r["hash"]:
            anchor_bad = Bad(i, "ANCHOR_MISMATCH: the anchored record was replaced")
        else:
            anchor_bad = None
        if kind == "declaration":
            if decl is not None:
                raise Bad(i, "DECLARATION: a second declaration")
            decl = parse_declaration(i, body)
            if i > 0 and not accept_legacy:
                raise Bad(0, "FORMAT: format 0 not accepted")
            declared = decl["checkpointKey"]["thumbprint"] if decl["checkpointKey"] else None
            if given and declared is None:
                raise Bad(i, "KEY_MISMATCH: the log declares no key")
            if given and declared != given:
                raise Bad(i, "KEY_MISMATCH: another key")
            if declared:
                last_signed = i
                if key is not None:
                    claims = jws_holds(key, body["jws"], DECL_TYP, decl["checkpointKey"]["alg"])
                    expect = {k: v for k, v in body.items() if k != "jws"}
                    if claims != expect:
                        raise Bad(i, "UNSIGNED: the declaration's signature does not hold")
                    checked += 1
            since = 0
        elif decl is None:
            if i == 0 and not accept_legacy:
                raise Bad(0, "FORMAT: format 0 not accepted")
            if kind == "checkpoint":
                checkpoints += 1
                last_signed = i
                if key is not None:
                    claims = jws_holds(key, body.get("jws", ""), CP_TYP, None)
                    if not (isinstance(claims, dict) and claims.get("head") == r["prev"] and claims.get("count") == i):
                        raise Bad(i, "CHECKPOINT_INVALID")
                    checked += 1
        elif kind == "checkpoint":
            if decl["checkpointKey"] is None:
                raise Bad(i, "CHECKPOINT_EXTRA: the log declares no key")
            if since == 0:
                raise Bad(i, "CHECKPOINT_EXTRA: nothing since the last")
            since = 0
            checkpoints += 1
            last_signed = i
            if key is not None:
                claims = jws_holds(key, body.get("jws", ""), CP_TYP, decl["checkpointKey"]["alg"])
                if not (isinstance(claims, dict) and claims.get("head") == r["prev"] and claims.get("count") == i):
                    raise Bad(i, "CHECKPOINT_INVALID")
                checked += 1
        else:
            if decl["checkpointKey"] is not None and since >= decl["checkpointEvery"]:
                raise Bad(i, "CHECKPOINT_MISSING")
            since += 1
        if anchor_bad:
            raise anchor_bad
    end = n + off  # the next seq (records pruned before the held ones count)
    if anchor and end <= anchor[0]:
        raise Bad(end, "TRUNCATED: the log ends before the anchor")
    return {
        "ok": True,
        "entries": n,
        "format": 1 if decl else 0,
        "signed": bool(key is not None and (checked > 0 if decl is None else decl["checkpointKey"] is not None)),
        "checkpointKey": decl["checkpointKey"] if decl else None,
        "checkpoints": checkpoints,
        "checkpointsVerified": checked,
        "unsignedTail": end if last_signed is None else end - last_signed - 1,
    }


def read_lines(path):
    data = open(path, "rb").read().decode("utf-8")
    parts = data.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--key")
    ap.add_argument("--accept-legacy", action="store_true")
    ap.add_argument("--anchor")
    ap.add_argument("--pruned-to")
    a = ap.parse_args(argv)
    jwk = json.load(open(a.key)) if a.key else None
    anchor = None
    if a.anchor:
        s, h = a.anchor.split(":")
        anchor = (int(s), h)
    pruned = None
    if a.pruned_to:
        s, h = a.pruned_to.split(":")
        pruned = (int(s), h)
    lines = read_lines(a.log)
    if lines and not data_ends_with_newline(a.log):
        # The last line is unfinished (a torn write): it is not a record.
        out = {"ok": False, "entries": len(lines), "firstBadIndex": len(lines) - 1, "problem": "MALFORMED: an unfinished last line"}
        print(json.dumps(out))
        return 1
    try:
        out = verify(lines, jwk, a.accept_legacy, anchor, pruned)
    except Bad as e:
        out = {"ok": False, "entries": len(lines), "firstBadIndex": e.index, "problem": e.problem}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def data_ends_with_newline(path):
    with open(path, "rb") as f:
        data = f.read()
    return data == b"" or data.endswith(b"\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
