#!/usr/bin/env python3
"""A SASL gate in front of one Tansu broker, for the kafka-proxy SASL tests (issue 5).

None of the brokers here speaks SASL, so this small asyncio server stands in for a
SASL_PLAINTEXT listener: per connection it

  * relays ApiVersions to Tansu and adds SaslHandshake v0-1 and SaslAuthenticate v0-2
    to the answer;
  * answers SaslHandshake and SaslAuthenticate itself, verifying with implementations
    independent of the proxy: Python `scramp` for SCRAM-SHA-256/512, a plain comparison
    for PLAIN, a fixed token for OAUTHBEARER (RFC 7628 error flow on a bad token), Cyrus
    libsasl2's server side (ctypes, gssapiv2 plugin, keytab from KRB5_KTNAME) for GSSAPI
    (only when listed in --mechanisms; --gssapi-service/--gssapi-host name the acceptor);
  * refuses (closes the connection) any other request before authentication, as a
    Kafka broker does;
  * after authentication relays every frame to Tansu, keeping responses in request
    order, and still answers re-authentication (KIP-368) itself at any frame boundary;
  * returns a configurable session_lifetime_ms and closes a connection that sends a
    non-SASL request after its session expired (as Kafka brokers do), so a proxy that
    does not re-authenticate is caught.

Events go to stdout, one JSON object per line: {"event": "ready", "port": N} first,
then "auth" (conn, mechanism, user, ok, count = authentications on this connection,
message), "expired", "unauthenticated_request", "closed".

Commands on stdin, one per line (answered with "ok"):
  passwd USER PASSWORD     set or change a user's password
  token TOKEN              the accepted OAUTHBEARER token
  lifetime MS              session lifetime returned by later logins (0 = none)
  mechanisms A,B,...       enabled mechanisms
  quit

Usage: saslgate.py --listen HOST:PORT --upstream HOST:PORT [--user U:P ...]
                   [--token T] [--lifetime-ms N] [--mechanisms PLAIN,...]
"""

import argparse
import asyncio
import json
import struct
import sys
import time

import scramp

ALL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
SASL_HANDSHAKE, API_VERSIONS, SASL_AUTHENTICATE, PRODUCE = 17, 18, 36, 0
FLEX = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 17: 99,
        18: 3, 19: 5, 20: 4, 22: 2, 32: 4, 36: 2, 60: 0}
ERR_UNSUPPORTED_SASL_MECHANISM, ERR_ILLEGAL_SASL_STATE, ERR_SASL_AUTHENTICATION_FAILED = 33, 34, 58


def emit(**event):
    event.setdefault("t", round(time.time(), 3))
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Config:
    def __init__(self, args):
        self.users = {}
        for u in args.user or []:
            name, _, pw = u.partition(":")
            self.users[name] = pw
        self.token = args.token
        self.lifetime_ms = args.lifetime_ms
        self.mechanisms = args.mechanisms.split(",") if args.mechanisms else list(ALL_MECHANISMS)
        self.gssapi_service = args.gssapi_service
        self.gssapi_host = args.gssapi_host


# ---- wire helpers --------------------------------------------------------

def uvarint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def put_uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def flexible(api_key, version):
    return version >= FLEX.get(api_key, 99)


def parse_request_header(payload):
    """(api_key, api_version, correlation_id, body_offset)."""
    api_key, version, corr = struct.unpack(">hhi", payload[:8])
    i = 8
    n = struct.unpack(">h", payload[i:i + 2])[0]
    i += 2 + max(n, 0)
    if flexible(api_key, version):
        count, i = uvarint(payload, i)
        for _ in range(count):
            _, i = uvarint(payload, i)
            size, i = uvarint(payload, i)
            i += size
    return api_key, version, corr, i


def read_bytes(body, i, flex):
    if flex:
        n, i = uvarint(body, i)
        n -= 1
    else:
        n = struct.unpack(">i", body[i:i + 4])[0]
        i += 4
    return bytes(body[i:i + n]), i + n


def write_bytes(b, flex):
    return (put_uvarint(len(b) + 1) if flex else struct.pack(">i", len(b))) + b


def write_nullable_string(s, flex):
    if s is None:
        return put_uvarint(0) if flex else struct.pack(">h", -1)
    b = s.encode()
    return (put_uvarint(len(b) + 1) if flex else struct.pack(">h", len(b))) + b


def response_frame(api_key, version, corr, body):
    header = struct.pack(">i", corr)
    if api_key != API_VERSIONS and flexible(api_key, version):
        header += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def produce_expects_no_response(version, body):
    i = 0
    if version >= 3:
        if version >= 9:
            n, i = uvarint(body, i)
            i += max(n - 1, 0)
        else:
            n = struct.unpack(">h", body[i:i + 2])[0]
            i += 2 + max(n, 0)
    return struct.unpack(">h", body[i:i + 2])[0] == 0


def patch_api_versions(payload):
    """Tansu's ApiVersions response payload (header v0) with SaslHandshake 0-1 and
    SaslAuthenticate 0-2 set; other keys and trailing fields are kept."""
    corr, err = struct.unpack(">ih", payload[:6])
    # The version is not in the response; detect flexible (v3+) by trying the compact form.
    for flex in (True, False):
        try:
            i = 6
            if flex:
                n, i = uvarint(payload, i)
                n -= 1
            else:
                n = struct.unpack(">i", payload[i:i + 4])[0]
                i += 4
            if n < 0 or n > 500:
                continue
            entries = []
            for _ in range(n):
                k, lo, hi = struct.unpack(">hhh", payload[i:i + 6])
                i += 6
                tagged = b""
                if flex:
                    start = i
                    count, i = uvarint(payload, i)
                    for _ in range(count):
                        _, i = uvarint(payload, i)
                        size, i = uvarint(payload, i)
                        i += size
                    tagged = payload[start:i]
                entries.append((k, lo, hi, tagged))
            tail = payload[i:]
            if flex and len(tail) < 5 or not flex and len(tail) not in (0, 4):
                continue
            break
        except (struct.error, IndexError):
            continue
    else:
        return payload
    entries = [e for e in entries if e[0] not in (SASL_HANDSHAKE, SASL_AUTHENTICATE)]
    entries += [(SASL_HANDSHAKE, 0, 1, b"\x00" if flex else b""), (SASL_AUTHENTICATE, 0, 2, b"\x00" if flex else b"")]
    entries.sort()
    out = struct.pack(">ih", corr, err)
    out += put_uvarint(len(entries) + 1) if flex else struct.pack(">i", len(entries))
    for k, lo, hi, tagged in entries:
        out += struct.pack(">hhh", k, lo, hi) + tagged
    return out + tail


# ---- one connection ------------------------------------------------------

class Connection:
    counter = 0

    def __init__(self, config, reader, writer, upstream):
        Connection.counter += 1
        self.id = Connection.counter
        self.config = config
        self.reader, self.writer = reader, writer
        self.upstream = upstream
        self.up_reader = self.up_writer = None
        self.authenticated = False
        self.auth_count = 0
        self.expires_at = None
        self.mechanism = None
        self.scram = None
        self.scram_user = None
        self.oauth_error_sent = False
        self.gss = None
        self.order = asyncio.Queue()     # futures resolving to response bytes (or None: no response)
        self.pending_upstream = []       # futures waiting for Tansu's responses, in order

    async def run(self):
        try:
            self.up_reader, self.up_writer = await asyncio.open_connection(*self.upstream)
        except OSError as e:
            emit(event="upstream_failed", conn=self.id, error=str(e))
            self.writer.close()
            return
        tasks = [asyncio.ensure_future(t) for t in (self.client_loop(), self.upstream_loop(), self.writer_loop())]
        done, rest = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in rest:
            t.cancel()
        for w in (self.writer, self.up_writer):
            w.close()
        emit(event="closed", conn=self.id, authentications=self.auth_count)

    async def read_frame(self, reader):
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        return await reader.readexactly(size)

    async def client_loop(self):
        try:
            while True:
                payload = await self.read_frame(self.reader)
                api_key, version, corr, off = parse_request_header(payload)
                body = payload[off:]
                fut = asyncio.get_running_loop().create_future()
                if api_key == SASL_HANDSHAKE:
                    fut.set_result(self.handshake(version, corr, body))
                elif api_key == SASL_AUTHENTICATE:
                    fut.set_result(self.authenticate(version, corr, body))
                elif api_key == API_VERSIONS:
                    fut.patch = True
                    self.forward(payload, fut)
                elif not self.authenticated:
                    emit(event="unauthenticated_request", conn=self.id, api_key=api_key)
                    return
                elif self.expires_at is not None and time.time() > self.expires_at:
                    emit(event="expired", conn=self.id, api_key=api_key,
                         late_ms=int((time.time() - self.expires_at) * 1000))
                    return
                else:
                    if api_key == PRODUCE and produce_expects_no_response(version, body):
                        fut.set_result(None)
                        self.up_writer.write(struct.pack(">i", len(payload)) + payload)
                    else:
                        self.forward(payload, fut)
                await self.order.put(fut)
                if fut.done() and fut.result() == b"CLOSE":
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except Exception as e:  # a bug here must show up in the events, not hang the client
            emit(event="gate_error", conn=self.id, error=repr(e))
            return

    def forward(self, payload, fut):
        self.pending_upstream.append(fut)
        self.up_writer.write(struct.pack(">i", len(payload)) + payload)

    async def upstream_loop(self):
        try:
            while True:
                payload = await self.read_frame(self.up_reader)
                fut = self.pending_upstream.pop(0)
                if getattr(fut, "patch", False):
                    payload = patch_api_versions(payload)
                fut.set_result(struct.pack(">i", len(payload)) + payload)
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            return

    async def writer_loop(self):
        while True:
            fut = await self.order.get()
            data = await fut
            if data == b"CLOSE":
                await asyncio.sleep(0.05)
                return
            if data is not None:
                self.writer.write(data)
                await self.writer.drain()

    # ---- SASL

    def handshake(self, version, corr, body):
        n = struct.unpack(">h", body[:2])[0]
        mech = body[2:2 + n].decode()
        enabled = self.config.mechanisms
        err = 0 if mech in enabled else ERR_UNSUPPORTED_SASL_MECHANISM
        self.mechanism = mech if err == 0 else None
        self.scram = None
        self.oauth_error_sent = False
        self.gss = None
        out = struct.pack(">hi", err, len(enabled))
        for m in enabled:
            out += struct.pack(">h", len(m)) + m.encode()
        return response_frame(SASL_HANDSHAKE, version, corr, out)

    def authenticate(self, version, corr, body):
        flex = version >= 2
        auth_bytes, _ = read_bytes(body, 0, flex)
        if self.mechanism is None:
            return self.auth_response(version, corr, ERR_ILLEGAL_SASL_STATE, "SaslAuthenticate before SaslHandshake", b"")
        try:
            done, user, challenge = self.verify(auth_bytes)
        except AuthFailed as e:
            self.auth_count_event(False, e.user, str(e))
            self.mechanism = None
            return self.auth_response(version, corr, ERR_SASL_AUTHENTICATION_FAILED, str(e), b"")
        if not done:
            return self.auth_response(version, corr, 0, None, challenge)
        self.authenticated = True
        self.auth_count += 1
        lifetime = self.config.lifetime_ms
        self.expires_at = time.time() + lifetime / 1000.0 if lifetime > 0 else None
        self.auth_count_event(True, user, None)
        self.mechanism = None
        return self.auth_response(version, corr, 0, None, challenge, lifetime)

    def auth_count_event(self, ok, user, message):
        emit(event="auth", conn=self.id, mechanism=self.mechanism, user=user, ok=ok,
             count=self.auth_count, message=message)

    def auth_response(self, version, corr, err, message, auth_bytes, lifetime=0):
        flex = version >= 2
        out = struct.pack(">h", err) + write_nullable_string(message, flex) + write_bytes(auth_bytes, flex)
        if version >= 1:
            out += struct.pack(">q", lifetime)
        if flex:
            out += b"\x00"
        return response_frame(SASL_AUTHENTICATE, version, corr, out)

    def verify(self, msg):
        """(done, user, server message); raises AuthFailed."""
        m = self.mechanism
        if m == "PLAIN":
            parts = msg.split(b"\x00")
            if len(parts) != 3:
                raise AuthFailed(None, "Authentication failed: invalid PLAIN message")
            authz, user, pw = (p.decode("utf-8", "replace") for p in parts)
            if authz and authz != user:
                raise AuthFailed(user, "Authentication failed: authorization id differs from user name")
            if user not in self.config.users or self.config.users[user] != pw:
                raise AuthFailed(user, "Authentication failed: Invalid username or password")
            return True, user, b""
        if m in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            try:
                if self.scram is None:
                    mech = scramp.ScramMechanism(m)
                    users = self.config.users

                    def auth_fn(username):
                        self.scram_user = username
                        if username not in users:
                            raise AuthFailed(username, "Authentication failed: Invalid user credentials")
                        return mech.make_auth_info(users[username], iteration_count=4096)

                    self.scram = mech.make_server(auth_fn)
                    self.scram.set_client_first(msg.decode())
                    return False, self.scram_user, self.scram.get_server_first().encode()
                server, self.scram = self.scram, None
                server.set_client_final(msg.decode())
                return True, self.scram_user, server.get_server_final().encode()
            except scramp.ScramException as e:
                self.scram = None
                raise AuthFailed(self.scram_user, "Authentication failed: Invalid user credentials (%s)" % e)
        if m == "OAUTHBEARER":
            if self.oauth_error_sent:
                # RFC 7628: the client acknowledged the error status with 0x01; now fail.
                raise AuthFailed(None, "Authentication failed: invalid_token")
            text = msg.decode("utf-8", "replace")
            if not text.startswith("n,") or "\x01auth=Bearer " not in text or not text.endswith("\x01\x01"):
                raise AuthFailed(None, "Authentication failed: malformed OAUTHBEARER client message")
            token = text.split("\x01auth=Bearer ", 1)[1].split("\x01", 1)[0]
            if token != self.config.token:
                self.oauth_error_sent = True
                return False, None, json.dumps({"status": "invalid_token"}).encode()
            return True, "token", b""
        if m == "GSSAPI":
            if self.gss is None:
                self.gss = CyrusGSSAPIServer(self.config.gssapi_service, self.config.gssapi_host)
            try:
                done, out = self.gss.step(msg)
            except AuthFailed:
                self.gss = None
                raise
            if not done:
                return False, None, out
            user, self.gss = self.gss.username(), None
            return True, user, out
        raise AuthFailed(None, "Authentication failed: mechanism %s not enabled" % m)


class CyrusGSSAPIServer:
    """GSSAPI verified by Cyrus libsasl2's server side (sasl_server_*, the gssapiv2 plugin of
    libsasl2-modules-gssapi-mit) through ctypes; the service keytab comes from KRB5_KTNAME.
    Independent of the proxy, which uses the client side."""

    lib = None

    @classmethod
    def load(cls):
        if cls.lib is None:
            import ctypes
            import ctypes.util
            lib = ctypes.CDLL(ctypes.util.find_library("sasl2") or "libsasl2.so.2")
            lib.sasl_errstring.restype = ctypes.c_char_p
            lib.sasl_errdetail.restype = ctypes.c_char_p
            rc = lib.sasl_server_init(None, b"saslgate")
            if rc != 0:
                raise RuntimeError("sasl_server_init: %d" % rc)
            cls.lib = lib
        return cls.lib

    def __init__(self, service, host):
        import ctypes
        self.ct = ctypes
        self.lib = self.load()
        self.conn = ctypes.c_void_p()
        rc = self.lib.sasl_server_new(service.encode(), host.encode(), None, None, None, None, 0,
                                      ctypes.byref(self.conn))
        if rc != 0:
            raise AuthFailed(None, "Authentication failed: sasl_server_new: %d" % rc)
        self.started = False

    def step(self, data):
        ct = self.ct
        out, outlen = ct.c_char_p(), ct.c_uint()
        if not self.started:
            self.started = True
            rc = self.lib.sasl_server_start(self.conn, b"GSSAPI", data, len(data), ct.byref(out), ct.byref(outlen))
        else:
            rc = self.lib.sasl_server_step(self.conn, data, len(data), ct.byref(out), ct.byref(outlen))
        payload = ct.string_at(out, outlen.value) if out else b""
        if rc == 0:
            return True, payload
        if rc == 1:
            return False, payload
        detail = self.lib.sasl_errdetail(self.conn).decode(errors="replace")
        self.close()
        raise AuthFailed(None, "Authentication failed: GSSAPI: %s" % detail)

    def username(self):
        ct = self.ct
        value = ct.c_char_p()
        self.lib.sasl_getprop(self.conn, 0, ct.byref(value))  # SASL_USERNAME
        name = value.value.decode() if value.value else None
        self.close()
        return name

    def close(self):
        if self.conn:
            self.lib.sasl_dispose(self.ct.byref(self.conn))
            self.conn = self.ct.c_void_p()


class AuthFailed(Exception):
    def __init__(self, user, message):
        super().__init__(message)
        self.user = user


# ---- control ---------------------------------------------------------------

async def control(config, stop):
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            stop.set_result(None)
            return
        words = line.strip().split(" ", 2)
        cmd = words[0]
        if cmd == "passwd" and len(words) == 3:
            config.users[words[1]] = words[2]
        elif cmd == "token" and len(words) == 2:
            config.token = words[1]
        elif cmd == "lifetime" and len(words) == 2:
            config.lifetime_ms = int(words[1])
        elif cmd == "mechanisms" and len(words) == 2:
            config.mechanisms = words[1].split(",")
        elif cmd == "quit":
            stop.set_result(None)
            return
        else:
            emit(event="error", command=line.strip())
            continue
        emit(event="ok", command=cmd)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--user", action="append")
    ap.add_argument("--token")
    ap.add_argument("--lifetime-ms", type=int, default=0)
    ap.add_argument("--mechanisms")
    ap.add_argument("--gssapi-service", default="kafka")
    ap.add_argument("--gssapi-host", default="127.0.0.1")
    args = ap.parse_args()
    config = Config(args)
    lh, lp = args.listen.rsplit(":", 1)
    uh, up = args.upstream.rsplit(":", 1)
    server = await asyncio.start_server(
        lambda r, w: Connection(config, r, w, (uh, int(up))).run(), lh, int(lp))
    emit(event="ready", port=server.sockets[0].getsockname()[1])
    stop = asyncio.get_running_loop().create_future()
    asyncio.ensure_future(control(config, stop))
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
