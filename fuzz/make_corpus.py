#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/, one file per seed,
named after what it is. Run it again after adding a seed; the files are committed, so a fuzz run
needs no Python. What a run finds beyond these goes to fuzz/work/ and is not committed.

Some targets take a few control bytes before their input (see each target's doc comment):
`ctl()` packs them.
"""
import shutil
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def ctl(fmt, *values):
    return struct.pack("<" + fmt, *values)


def write(target, seeds):
    folder = CORPUS / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        (folder / name).write_bytes(data)


def request(head, body=b""):
    return head.replace("\n", "\r\n").encode() + body


GET = "GET / HTTP/1.1\nHost: app.test\n\n"
POST_CL = "POST /form HTTP/1.1\nHost: app.test\nContent-Length: 5\n\n"
POST_TE = "POST /upload HTTP/1.1\nHost: app.test\nTransfer-Encoding: chunked\n\n"

request_heads = {
    "get": request(GET),
    "get-browser": request(
        "GET /mandant-a/index.html?x=1&y=%C3%BC HTTP/1.1\nHost: www324.prozessplattform.de\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\n"
        "Accept-Language: de-DE,de;q=0.9,en;q=0.5\nAccept-Encoding: gzip, deflate, br\n"
        "Cookie: session=abc; hiatus_bypass=1893456000.00ff\nConnection: keep-alive\n\n"
    ),
    "get-http10": request("GET /a HTTP/1.0\nHost: app.test\n\n"),
    "get-http10-keepalive": request("GET /a HTTP/1.0\nHost: app.test\nConnection: keep-alive\n\n"),
    "get-no-host": request("GET / HTTP/1.1\n\n"),
    "get-close-pipelined": request(GET + "GET /next HTTP/1.1\nHost: app.test\nConnection: close\n\n"),
    "head": request("HEAD /file HTTP/1.1\nHost: app.test\n\n"),
    "post-length": request(POST_CL, b"hello"),
    "post-length-zeros": request("POST / HTTP/1.1\nHost: a\nContent-Length: 005\n\n", b"hello"),
    "post-chunked": request(POST_TE, b"5\r\nhello\r\n0\r\n\r\n"),
    "post-chunked-case": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: ChUnKeD\n\n"),
    "expect-continue": request("PUT /f HTTP/1.1\nHost: a\nExpect: 100-continue\nContent-Length: 3\n\n"),
    "expect-other": request("PUT /f HTTP/1.1\nHost: a\nExpect: 200-ok\n\n"),
    "absolute-form": request("GET http://app.test/x?y=1 HTTP/1.1\nHost: app.test\n\n"),
    "absolute-form-https-port": request("GET HTTPS://app.test:8443 HTTP/1.1\n\n"),
    "absolute-form-other-host": request("GET http://a.test/x HTTP/1.1\nHost: b.test\n\n"),
    "absolute-form-userinfo": request("GET http://user@a.test/x HTTP/1.1\nHost: a.test\n\n"),
    "options-star": request("OPTIONS * HTTP/1.1\nHost: a\n\n"),
    "get-star": request("GET * HTTP/1.1\nHost: a\n\n"),
    "trace": request("TRACE / HTTP/1.1\nHost: a\n\n"),
    "connect": request("CONNECT a.test:443 HTTP/1.1\nHost: a.test:443\n\n"),
    "propfind": request("PROPFIND /dav HTTP/1.1\nHost: a\nDepth: 1\n\n"),
    "websocket": request(
        "GET /ws HTTP/1.1\nHost: a\nConnection: keep-alive, Upgrade\nUpgrade: websocket\n"
        "Sec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n"
    ),
    "upgrade-h2c": request("GET / HTTP/1.1\nHost: a\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\n\n"),
    "h2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "version-12": request("GET / HTTP/1.2\nHost: a\n\n"),
    "version-09": b"GET /\r\n",
    "forwarded": request(
        "GET / HTTP/1.1\nHost: a\nX-Forwarded-For: 198.51.100.7, 10.0.0.9\nX-Forwarded-Proto: https\n"
        "X-Forwarded-Host: a\nForwarded: for=198.51.100.7\nX-Request-Id: abc\nX-Hiatus: bypass\n\n"
    ),
    "connection-many-tokens": request("GET / HTTP/1.1\nHost: a\nConnection: " + ", ".join(f"x-{i}" for i in range(20)) + "\n\n"),
    "underscore-field": request("GET / HTTP/1.1\nHost: a\nX_Forwarded_For: 1.2.3.4\n\n"),
    "fragment": request("GET /a#frag HTTP/1.1\nHost: a\n\n"),
    "path-utf8": request("GET /mandant-a/ü HTTP/1.1\nHost: a\n\n"),
    "path-not-utf8": b"GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n",
    "value-not-ascii": b"GET / HTTP/1.1\r\nHost: a\r\nAccept: \xc3\xa9\r\n\r\n",
    "partial": b"GET /a HTTP/1.1\r\nHost: a\r\nAcc",
    "leading-crlf": request("\n" + GET),
    "many-fields": request("GET / HTTP/1.1\n" + "".join(f"X-{i}: v\n" for i in range(101)) + "\n"),
    # Smuggling shapes: every one is refused.
    "smuggle-cl-te": request("POST / HTTP/1.1\nHost: a\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", b"0\r\n\r\n"),
    "smuggle-te-cl": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nContent-Length: 4\n\n"),
    "smuggle-te-te": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nTransfer-Encoding: identity\n\n"),
    "smuggle-cl-cl": request("POST / HTTP/1.1\nHost: a\nContent-Length: 5\nContent-Length: 6\n\n"),
    "smuggle-cl-list": request("POST / HTTP/1.1\nHost: a\nContent-Length: 5, 5\n\n"),
    "smuggle-cl-plus": request("POST / HTTP/1.1\nHost: a\nContent-Length: +5\n\n"),
    "smuggle-cl-hex": request("POST / HTTP/1.1\nHost: a\nContent-Length: 0x5\n\n"),
    "smuggle-cl-huge": request("POST / HTTP/1.1\nHost: a\nContent-Length: 99999999999999999999\n\n"),
    "smuggle-te-list": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked, identity\n\n"),
    "smuggle-te-gzip": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked\n\n"),
    "smuggle-te-xchunked": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: xchunked\n\n"),
    "smuggle-te-vtab": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n",
    "smuggle-te-space-colon": request("POST / HTTP/1.1\nHost: a\nTransfer-Encoding : chunked\n\n"),
    "smuggle-te-http10": request("POST / HTTP/1.0\nHost: a\nTransfer-Encoding: chunked\n\n"),
    "smuggle-obs-fold": request("GET / HTTP/1.1\nHost: a\nX: a\n b\n\n"),
    "smuggle-bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "smuggle-bare-lf-field": b"GET / HTTP/1.1\r\nX-A: 1\nContent-Length: 5\r\nHost: a\r\n\r\n",
    "smuggle-bare-cr": b"GET / HTTP/1.1\r\nX-A: 1\rContent-Length: 5\r\nHost: a\r\n\r\n",
    "smuggle-nul": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    "smuggle-host-twice": request("GET / HTTP/1.1\nHost: a\nHost: b\n\n"),
    "smuggle-space-in-name": request("GET / HTTP/1.1\nHo st: a\n\n"),
}

RESPONSES = {
    "ok-length": "HTTP/1.1 200 OK\nContent-Length: 5\nContent-Type: text/plain\n\nhello",
    "ok-chunked": "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n",
    "ok-close": "HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html>",
    "ok-http10": "HTTP/1.0 200 OK\nContent-Length: 2\n\nhi",
    "ok-connection-close": "HTTP/1.1 200 OK\nConnection: close\nContent-Length: 2\n\nhi",
    "ok-empty-reason": "HTTP/1.1 200 \nContent-Length: 0\n\n",
    "ok-no-reason": "HTTP/1.1 200\r\nContent-Length: 0\n\n",
    "ok-reason-latin1": b"HTTP/1.1 200 Gr\xfc\xdfe\r\nContent-Length: 0\r\n\r\n",
    "ok-te-gzip": "HTTP/1.1 200 OK\nTransfer-Encoding: gzip\n\n",
    "ok-te-and-length": "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Length: 3\nConnection: x-a, content-length\nX-A: 1\n\n",
    "ok-hop-by-hop": "HTTP/1.1 200 OK\nKeep-Alive: timeout=5\nProxy-Connection: keep-alive\nTrailer: X-Sum\nTE: trailers\n"
    "Upgrade: h2\nProxy-Authenticate: Basic\nX-Hiatus: maintenance\nX-Request-Id: forged\nX-Hiatus-Generation: 1\n"
    "X-Hiatus-Failure: x\nContent-Length: 0\n\n",
    "ok-set-cookies": "HTTP/1.1 200 OK\nServer: o\nX-Empty:\nSet-Cookie: a=1\nSet-Cookie: b=2\nDate: Mon, 01 Jan 2024 00:00:00 GMT\nContent-Length: 2\n\nok",
    "ok-obs-text": b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n",
    "no-content": "HTTP/1.1 204 No Content\n\n",
    "no-content-length": "HTTP/1.1 204 No Content\nContent-Length: 5\n\nhello",
    "not-modified": "HTTP/1.1 304 Not Modified\nContent-Length: 1234\nETag: \"x\"\n\n",
    "not-modified-chunked": "HTTP/1.1 304 Not Modified\nTransfer-Encoding: chunked\n\n",
    "continue-then-ok": "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "early-hints": "HTTP/1.1 103 Early Hints\nLink: </app.css>; rel=preload\n\n",
    "switching": "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n",
    "switching-empty-upgrade": "HTTP/1.1 101 Switching Protocols\nUpgrade:\nConnection: upgrade\n\n",
    "switching-no-upgrade": "HTTP/1.1 101 Switching Protocols\n\n",
    "length-twice": "HTTP/1.1 200 OK\nContent-Length: 5\nContent-Length: 5\n\n",
    "length-list": "HTTP/1.1 200 OK\nContent-Length: 5, 5\n\n",
    "length-plus": "HTTP/1.1 200 OK\nContent-Length: +5\n\n",
    "length-huge": "HTTP/1.1 200 OK\nContent-Length: 99999999999999999999\n\n",
    "length-18-digits": "HTTP/1.1 200 OK\nContent-Length: 999999999999999999\n\n",
    "status-099": "HTTP/1.1 099 Odd\n\n",
    "status-600": "HTTP/1.1 600 Odd\nContent-Length: 0\n\n",
    "status-999": "HTTP/1.1 999 Odd\nContent-Length: 0\n\n",
    "garbage": "garbage\n\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "partial": "HTTP/1.1 200 OK\r\nContent-Le",
    "many-fields": "HTTP/1.1 200 OK\n" + "".join(f"X-{i}: v\n" for i in range(101)) + "\n",
    "server-error": "HTTP/1.1 503 Service Unavailable\nRetry-After: 120\nContent-Length: 0\n\n",
    "h2-invalid-field": "HTTP/1.1 200 OK\nX-Bad: a\x7fb\nContent-Length: 0\n\n",
}


def response(text):
    if isinstance(text, str):
        return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("latin-1")
    return text


# flags: 1 HEAD, 2 upgrade asked, 4 HTTP/1.0 client, 8 keep-alive.
response_heads = {}
for i, (name, text) in enumerate(RESPONSES.items()):
    data = response(text)
    flags = 8 | (2 if name.startswith("switching") else 0) | (1 if name == "ok-length" else 0)
    response_heads[name] = ctl("BH", flags, len(data) // 2) + data
response_heads["ok-length-head"] = ctl("BH", 9, 20) + response(RESPONSES["not-modified"].replace("304 Not Modified", "200 OK"))
response_heads["ok-chunked-http10"] = ctl("BH", 4, 0) + response(RESPONSES["ok-chunked"])

BODIES = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "two-chunks": b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    "extensions-trailers": b'5;ext="x"\r\nhello\r\nA;a=1;b\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n',
    "upper-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "leading-zeros": b"005\r\nhello\r\n0000\r\n\r\n",
    "size-then-space-ext": b"5 ;x\r\nhello\r\n0\t\r\n\r\n",
    "empty": b"0\r\n\r\n",
    "next-request": b"3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
    "data-looks-like-end": b"7\r\n0\r\n\r\nxx\r\n0\r\n\r\n",
    "many-small": b"".join(b"1\r\n" + bytes([97 + i % 26]) + b"\r\n" for i in range(40)) + b"0\r\n\r\n",
    "max-digits": b"fffffffffffffff\r\nabc",
    "too-many-digits": b"1234567890abcdef0\r\n",
    "unfinished": b"5\r\nhel",
    "unfinished-trailers": b"0\r\nX: 1\r\n",
    "no-final-crlf": b"0\r\n",
    "bad-data-end": b"5\r\nhelloXX",
    "bare-lf-size": b"5\nhello\r\n0\r\n\r\n",
    "bare-lf-data": b"5\r\nhello\n0\r\n\r\n",
    "bare-lf-ext": b"5;a\nb\r\nhello\r\n",
    "bare-lf-trailer": b"0\r\nX: a\nb\r\n\r\n",
    "bare-lf-end": b"0\r\n\n",
    "plus-size": b"+5\r\nhello\r\n",
    "hex-prefix": b"0x5\r\nhello\r\n",
    "leading-space": b" 5\r\nhello\r\n",
    "no-size": b"\r\n",
    "ext-control": b"5;a\x01\r\nhello\r\n0\r\n\r\n",
    "long-ext": b"1;" + b"x" * 4100 + b"\r\na\r\n0\r\n\r\n",
    "trailer-del": b"0\r\nX: \x7f\r\n\r\n",
}

chunked = {name: ctl("HB", len(body) // 2, 3) + body for name, body in BODIES.items()}
chunked["simple-byte-by-byte"] = ctl("HB", 1, 0) + BODIES["simple"]
chunked["two-chunks-cut-in-data"] = ctl("HB", 5, 15) + BODIES["two-chunks"]

# mode: bit 0 = Content-Length body (length in the next two bytes); then the cut.
request_body = {}
for name in ["simple", "two-chunks", "extensions-trailers", "next-request", "many-small", "data-looks-like-end",
             "unfinished", "bad-data-end", "bare-lf-trailer", "empty", "leading-zeros", "long-ext"]:
    body = BODIES[name]
    request_body["chunked-" + name] = ctl("BHH", 0, 0, len(body) // 2) + body
request_body["chunked-all-with-head"] = ctl("BHH", 0, 0, 60000) + BODIES["next-request"]
request_body["chunked-all-on-socket"] = ctl("BHH", 0, 0, 0) + BODIES["next-request"]
request_body["length"] = ctl("BHH", 1, 11, 4) + b"hello worldGET /next HTTP/1.1\r\n\r\n"
request_body["length-in-hand"] = ctl("BHH", 1, 5, 9) + b"helloGET /"
request_body["length-zero"] = ctl("BHH", 1, 0, 0) + b"GET /next HTTP/1.1\r\n\r\n"
request_body["length-max"] = ctl("BHH", 1, 65535, 10) + b"x" * 300
request_body["chunked-trailers-split"] = ctl("BHH", 0, 0, 24) + BODIES["extensions-trailers"] + b"POST / HTTP/1.1\r\n"
request_body["chunked-size-split"] = ctl("BHH", 0, 0, 1) + b"1F\r\n" + b"y" * 31 + b"\r\n0\r\n\r\n"
request_body["chunked-pipelined-twice"] = ctl("BHH", 0, 0, 8) + BODIES["simple"] + BODIES["simple"]
request_body["chunked-malformed-on-socket"] = ctl("BHH", 0, 0, 3) + b"5\r\nhelloXX"
request_body["length-short"] = ctl("BHH", 1, 100, 3) + b"hello"

paths = {
    "root": "/",
    "plain": "/mandant-a/x/y.html",
    "prefix-only": "/mandant-a",
    "api-v2": "/api/v2/users",
    "api-v20": "/api/v20",
    "star": "*",
    "empty": "",
    "no-slash": "mandant-a",
    "well-known": "/.well-known/acme-challenge/Tk-9_x",
    "hiatus": "/.hiatus/app.css",
    "hiatus-escaped": "/%2Ehiatus/app.css",
    "unreserved-escape": "/%6dandant-a/x",
    "unreserved-escapes-lower": "/%6d%61ndant-a",
    "double-slash": "//mandant-a/x",
    "dot": "/./mandant-a/x",
    "dot-dot": "/x/../mandant-a/x",
    "dot-dot-escaped": "/x/%2e%2E/mandant-a",
    "escaped-slash": "/mandant-a%2Fx",
    "escaped-slash-dots": "/mandant-b/..%2Fmandant-a/x",
    "escaped-backslash": "/mandant-a%5cx",
    "backslash": "/mandant-a\\..\\mandant-b",
    "merge-then-resolve": "/x//../mandant-a",
    "resolve-up-past-root": "/../../mandant-a",
    "trailing-dot-dot": "/mandant-a/x/..",
    "double-encoded": "/mandant-a%252F..%252Fmandant-b",
    "utf8": "/mandant-a/ü",
    "utf8-escaped": "/mandant-a/%c3%bc",
    "space-escaped": "/x%20y/mandant-a",
    "nul": "/mandant-a%00/x",
    "bad-escape": "/a%zz",
    "short-escape": "/a%2",
    "percent-percent": "/a%%41",
    "control": "/a\x01b",
    "del": "/a\x7fb",
    "control-escaped": "/mandant-a/%0a",
    "dots-not-segments": "/mandant-a/...",
    "dotted-name": "/mandant-a.",
}

# flags: bits 0-1 peer (none, IPv4, IPv6, IPv4-mapped), bits 2-3 cookie spliced in (none,
# valid, expired); then the peer's bytes; then X-Forwarded-For lines, NUL, Cookie header.
V4_TRUSTED = bytes([10, 0, 0, 2])
V4_CLIENT = bytes([203, 0, 113, 5])
V6_TRUSTED = bytes.fromhex("20010db8000000000000000000000001")
V6_CLIENT = bytes.fromhex("2a0104f8000000000000000000000001")
bypass = {
    "untrusted-peer": bytes([1]) + V4_CLIENT + b"1.2.3.4\x00session=1",
    "trusted-one-hop": bytes([1]) + V4_TRUSTED + b"198.51.100.7, 10.0.0.9\x00",
    "trusted-rightmost": bytes([1]) + V4_TRUSTED + b"6.6.6.6, 198.51.100.7\x00",
    "trusted-lines": bytes([1]) + V4_TRUSTED + b"6.6.6.6\n198.51.100.7, 10.0.0.3\x00",
    "trusted-all-hops": bytes([1]) + V4_TRUSTED + b"6.6.6.6\n10.0.0.3\n10.0.0.4\x00",
    "trusted-garbage": bytes([1]) + V4_TRUSTED + b"garbage, 10.0.0.3\x00",
    "trusted-empty-hops": bytes([1]) + V4_TRUSTED + b"198.51.100.7,, ,\n\x00",
    "trusted-v6-hops": bytes([1]) + V4_TRUSTED + b"2001:db8::5, 2a01:4f8::1, ::ffff:10.0.0.1\x00",
    "v6-trusted": bytes([2]) + V6_TRUSTED + b"198.51.100.7\x00",
    "v6-untrusted": bytes([2]) + V6_CLIENT + b"10.0.0.1\x00",
    "mapped-trusted": bytes([3]) + bytes(12) + bytes([10, 1, 2, 3]) + b"198.51.100.7\x00",
    "no-peer": bytes([0]) + b"1.2.3.4\x00",
    "cookie-valid": bytes([4 | 1]) + V4_CLIENT + b"\x00a=b; c=d",
    "cookie-valid-alone": bytes([4 | 1]) + V4_CLIENT + b"\x00",
    "cookie-expired": bytes([8 | 1]) + V4_CLIENT + b"\x00x=1",
    "cookie-forged": bytes([1]) + V4_CLIENT + b"\x00hiatus_bypass=1893456000." + b"ab" * 32,
    "cookie-valid-among-many": bytes([4 | 2]) + V6_CLIENT + b"\x00" + b"; ".join(b"c%d=%d" % (i, i) for i in range(12)),
    "cookie-valid-twice": bytes([4 | 1]) + V4_CLIENT + b"\x00hiatus_bypass=1.00; x=y",
    "cookie-uppercase-tag": bytes([1]) + V4_CLIENT + b"\x00hiatus_bypass=1893456000." + b"AB" * 32,
    "cookie-bad-expiry": bytes([1]) + V4_CLIENT + b"\x00hiatus_bypass=-1." + b"00" * 32 + b"; hiatus_bypass=99999999999999999999.00",
    "trusted-ports-and-brackets": bytes([1]) + V4_TRUSTED + b"[2001:db8::1]:443, 198.51.100.7:80, unknown\x00",
    "trusted-whitespace": bytes([1]) + V4_TRUSTED + b" \t198.51.100.7 \t,\t10.0.0.9\x00",
    "trusted-mapped-hop": bytes([1]) + V4_TRUSTED + b"6.6.6.6, ::ffff:192.0.2.9\x00",
    "cookie-junk": bytes([1]) + V4_CLIENT + b"\x00hiatus_bypass=; hiatus_bypass=x.y;=;=; hiatus_bypassed=1",
}

configs = {}
for f in sorted(ROOT.glob("config/*.toml")) + sorted(ROOT.glob("config/*.d/*.toml")):
    configs["shipped-" + f.stem] = f.read_bytes()
for f in sorted(ROOT.glob("tests/fixtures/**/*.toml")):
    configs["fixture-" + f.parent.name + "-" + f.stem] = f.read_bytes()
configs.update({
    "minimal": '[[tenants]]\nid = "a"\nhosts = ["a.test"]\nupstreams = ["127.0.0.1:80"]\n',
    "empty": "",
    "gateway-full": """
[gateway]
listen = ["127.0.0.1:8080", "[::1]:8080"]
threads = 2
unknown_host_status = 421
default_tenant = "a"
status_host = "status.test"
status_path = "/.hiatus/status"
keepalive_timeout = "60s"
header_timeout = "10s"
body_timeout = "30s"
tunnel_timeout = "1h"
underscores_in_headers = false
connect_timeout = "1s"
read_timeout = "10s"
write_timeout = "10s"
retry_after_open_ended = "5m"
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]
bypass = { allow = ["192.0.2.0/24"], secret = "0123456789abcdef0123", cookie_ttl = "12h", paths = ["/.well-known/acme-challenge/"] }
admin = "127.0.0.1:9090"
grace_period = "5s"
health = { path = "/healthz", expect = 200, interval = "5s", timeout = "1s", rise = 2, fall = 3 }

[[tenants]]
id = "a"
hosts = ["a.test", "*.a.test"]
upstreams = ["127.0.0.1:80"]
health = { tcp = true }
replace_upstream_errors = true
""",
    "windows-every-rule": """
[defaults]
zone = "Europe/Berlin"
[[tenants]]
id = "t"
hosts = ["www{1..20}.t.test"]
path = "/mandant-a"
upstreams = ["10.0.0.1:8{n}"]
[[windows]]
id = "daily"
daily = { at = "02:30", until = "03:30" }
[[windows]]
id = "weekly"
weekly = { on = ["sat", "sun"], at = "22:00", for = "8h" }
except = { dates = ["2025-12-27"], months = ["aug"] }
[[windows]]
id = "monthly"
monthly = { on = "last fri", at = "23:00", until = "01:00" }
from = "2025-01-01"
to = "2026-12-31"
[[windows]]
id = "monthly-day"
monthly = { on = -1, at = "12:00", for = "30m" }
also = ["2025-03-30T02:30"]
[[windows]]
id = "dates"
scope = { hosts = ["www{3..5}.t.test"] }
dates = { on = ["2025-03-30", "2025-10-26"], at = "02:00", until = "03:00" }
[[windows]]
id = "once-open"
scope = { tenants = ["t"] }
once = { start = "2025-03-30T01:00", tentative_from = "2025-03-30T02:00" }
zone = "America/New_York"
tentative = true
title = { en = "Open-ended", de = "Offen" }
""",
    "duplicate-ids": """
[defaults]
zone = "UTC"
[[tenants]]
id = "t"
hosts = ["a.example"]
upstreams = ["no-port"]
[[tenants]]
id = "t"
hosts = ["b.example"]
upstreams = ["b.internal:80"]
[[windows]]
id = "w"
zone = "Mars/Olympus"
daily = { at = "01:00", until = "02:00" }
""",
    "include-outside": 'include = ["/etc/*.conf", "../x.toml"]\n',
    "include-shipped": 'include = ["prozessplattform.d/*.toml", "weekly-provider.toml"]\n',
    "toml-odd": """
# Headers this scanner cuts at, and ones it does not.
"quoted" = 1
[gateway]
listen = [
  "127.0.0.1:1", # [[tenants]] in a comment
]
[ "tenants" . "x" ]
a = '''
[[tenants]]
'''
[[ tenants ]]
id = "x\\"y"
[windows.once]
nan = nan
""",
    "toml-dotted-after-array": '[[tenants]]\nid = "a"\n[tenants.x]\n[[tenants]]\nid = "b"\n',
    "toml-table-twice": "[gateway]\nthreads = 1\n[gateway]\nthreads = 2\n",
    "toml-unterminated": '[[tenants]]\nid = "a\n',
    "tenant-options": """
[[tenants]]
id = "a"
name = "A"
public = false
hosts = ["a.test", "www{01..12}.a.test", "*.b.test"]
upstreams = ["127.0.0.1:8080", "[::1]:8080"]
zone = "Europe/Oslo"
language = "nb"
connect_timeout = "500ms"
read_timeout = "2m"
pages = "pages"
health = { path = "/", expect = 204, host = "probe.a.test", interval = "1m", timeout = "2s", jitter = "1s" }
[[tenants]]
id = "b"
hosts = ["a.test"]
path = "/b/"
upstreams = ["127.0.0.1:{n}"]
""",
    "window-errors": """
[[windows]]
id = "x"
daily = { at = "25:00", until = "04:30" }
weekly = { on = "tues", at = "wed 06:00", for = "1d" }
monthly = { on = "6th tue", at = "00:00" }
dates = { on = ["2024-02-30"], at = "00:00", for = "0m" }
once = { start = "2024-11-14T00:55", end = "2024-11-14T00:34" }
scope = { tenants = ["nobody"], hosts = ["www{330..324}.x"] }
titel = "typo"
""",
    "dst-gap": """
[defaults]
zone = "Europe/Berlin"
[[tenants]]
id = "t"
hosts = ["t.test"]
upstreams = ["10.0.0.1:80"]
[[windows]]
id = "gap"
daily = { at = "02:15", until = "02:45" }
[[windows]]
id = "fold"
weekly = { on = "sun", at = "02:30", for = "24h" }
also = ["2025-10-26T02:30"]
""",
    "gateway-errors": """
[gateway]
listen = ["nowhere"]
threads = 0
unknown_host_status = 99
default_tenant = "missing"
trusted_proxies = ["10.0.0.0/33", "::/129", "x"]
bypass = { secret = "short", cookie_ttl = "forever", paths = ["relative"] }
emergency_file = "not-included.toml"
admin = "localhost"
""",
    "wrong-types": 'tenants = 5\nwindows = "w"\ndefaults = []\ngateway = 1\ncolour = "red"\n',
})

write("request_head", request_heads)
write("response_head", response_heads)
write("chunked", chunked)
write("request_body", request_body)
write("path", paths)
write("bypass", bypass)
write("config", configs)
total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
print(f"{sum(1 for f in CORPUS.rglob('*') if f.is_file())} seeds, {total} bytes in {CORPUS.relative_to(ROOT)}")
