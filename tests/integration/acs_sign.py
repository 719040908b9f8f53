"""Client-side Alibaba Cloud request signing for raw HTTP tests of shiren-intake: RPC HMAC-SHA1
(SignatureVersion 1.0) and ACS3-HMAC-SHA256 (shared cloudauth/API.md §4), plus a tiny raw HTTP/1.1
client so tests can send requests no SDK would (duplicate parameters, broken escapes, no Host).

An independent implementation: it is checked against cloudauth/vectors.json by
test_intake_badinput.py::test_signer_reproduces_vectors, so a failure there is the helper's fault,
not the server's.
"""
import base64
import datetime
import hashlib
import hmac
import secrets
import socket
import urllib.parse

VERSION = "2019-03-07"


def pct(s):
    """Alibaba percent-encoding: UTF-8, keep A-Z a-z 0-9 - _ . ~, upper-case %XX otherwise."""
    if isinstance(s, str):
        s = s.encode()
    return urllib.parse.quote(s, safe="-_.~")


def now_iso(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def nonce():
    return secrets.token_hex(16)


def encode_pairs(pairs):
    """Wire form of a query or form body (pct on both sides; every SDK sends %20, never +)."""
    return "&".join(f"{pct(k)}={pct(v)}" for k, v in pairs)


# ---- RPC HMAC-SHA1 ----

def rpc_string_to_sign(method, params):
    items = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in items)
    return f"{method}&%2F&{pct(canonical)}"


def rpc_signature(method, params, secret):
    sts = rpc_string_to_sign(method, params)
    mac = hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def rpc_request(method, action, business, akid, secret, *, in_body=True, timestamp=None,
                signature_nonce=None, version=VERSION, extra=None):
    """A pop-core style request: GET puts everything in the query; POST (in_body) everything in
    the form body. Returns (target, headers, body_bytes)."""
    params = {
        "AccessKeyId": akid, "Action": action, "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": signature_nonce or nonce(),
        "SignatureVersion": "1.0", "Timestamp": timestamp or now_iso(), "Version": version,
    }
    params.update(business)
    params.update(extra or {})
    params["Signature"] = rpc_signature(method, params, secret)
    wire = encode_pairs(sorted((k, v) for k, v in params.items() if k != "Signature"))
    wire += "&Signature=" + pct(params["Signature"])
    headers = {"x-acs-action": action, "x-acs-version": version}
    if method == "POST" and in_body:
        headers["content-type"] = "application/x-www-form-urlencoded"
        return "/", headers, wire.encode()
    return "/?" + wire, headers, b""


# ---- ACS3-HMAC-SHA256 ----

def acs3_canonical_request(method, path, query, headers, signed, payload_hash):
    cq = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(query))
    lower = {}
    for k, v in headers.items():
        lower.setdefault(k.lower(), []).append(v.strip())
    ch = "".join(f"{h}:{','.join(sorted(lower[h]))}\n" for h in signed)
    return "\n".join([method, path or "/", cq, ch, ";".join(signed), payload_hash])


def acs3_authorization(method, path, query, headers, body, akid, secret):
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = sorted(h.lower() for h in headers
                    if h.lower().startswith("x-acs-") or h.lower() in ("host", "content-type"))
    creq = acs3_canonical_request(method, path, query, headers, signed, payload_hash)
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(creq.encode()).hexdigest()
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return (f"ACS3-HMAC-SHA256 Credential={akid},SignedHeaders={';'.join(signed)},"
            f"Signature={sig}"), sts


def acs3_request(method, action, query, form, akid, secret, host, *, date=None,
                 signature_nonce=None, version=VERSION, extra_headers=None):
    """A cloudauth-SDK style request: `query` and `form` are lists of (key, value); the body is
    the form (may be empty). Returns (target, headers, body_bytes)."""
    body = encode_pairs(form).encode() if form else b""
    headers = {
        "host": host, "x-acs-action": action, "x-acs-version": version,
        "x-acs-date": date or now_iso(), "x-acs-signature-nonce": signature_nonce or nonce(),
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    headers.update(extra_headers or {})
    auth, _ = acs3_authorization(method, "/", query, headers, body, akid, secret)
    headers["Authorization"] = auth
    target = "/" + ("?" + encode_pairs(query) if query else "")
    return target, headers, body


# ---- raw HTTP/1.1 ----

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def send_raw(addr, raw, timeout=10):
    """Sends raw request bytes on a new connection and reads one response."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed before a response: {buf!r}")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in rest:
                    rest += s.recv(65536)
                size_line, rest = rest.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(rest) < size + 2:
                    rest += s.recv(65536)
                body += rest[:size]
                rest = rest[size + 2:]
                if size == 0:
                    break
            return Response(status, headers, body)
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Response(status, headers, rest[:n])


def build(method, target, headers, body=b"", *, chunked=False, host=None):
    """Raw request bytes. Adds Host (unless `host` is False or headers carry it), a length or
    chunked framing, and Connection: close."""
    lines = [f"{method} {target} HTTP/1.1"]
    names = {k.lower() for k in headers}
    if host and "host" not in names:
        lines.append(f"Host: {host}")
    for k, v in headers.items():
        lines.append(f"{k}: {v}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if chunked:
        parts = b""
        for i in range(0, len(body), 4096):
            piece = body[i:i + 4096]
            parts += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        return head + parts + b"0\r\n\r\n"
    return head + body


class Client:
    """Signs and sends requests to one intake with one AccessKey."""

    def __init__(self, addr, akid, secret):
        self.addr, self.akid, self.secret = addr, akid, secret

    def rpc(self, action, business, method="POST", **kw):
        target, headers, body = rpc_request(method, action, business, self.akid, self.secret,
                                            **kw)
        return send_raw(self.addr, build(method, target, headers, body, host=self.addr))

    def acs3(self, action, query=(), form=(), **kw):
        target, headers, body = acs3_request("POST", action, list(query), list(form),
                                             self.akid, self.secret, self.addr, **kw)
        return send_raw(self.addr, build("POST", target, headers, body, chunked=bool(body)))
