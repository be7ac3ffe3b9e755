"""The slitail wire protocol in Python for tests (docs/PROTOCOL.md): frame encoding and
decoding with python3-msgpack, and a small blocking client that speaks to an aggregator."""
import socket
import struct

try:
    import msgpack

    def packb(obj):
        return msgpack.packb(obj, use_bin_type=True)

    def unpackb(body):
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
except ImportError:  # python3-msgpack missing: the small subset the protocol uses
    def packb(obj):
        out = bytearray()
        _pack(obj, out)
        return bytes(out)

    def unpackb(body):
        obj, off = _unpack(body, 0)
        if off != len(body):
            raise ValueError("extra bytes after the message")
        return obj


def _pack(o, out):
    if o is None:
        out.append(0xc0)
    elif o is True or o is False:
        out.append(0xc3 if o else 0xc2)
    elif isinstance(o, int):
        if 0 <= o <= 0x7f:
            out.append(o)
        elif -32 <= o < 0:
            out.append(o & 0xff)
        elif o >= 0:
            for tag, fmt, lim in ((0xcc, ">B", 0xff), (0xcd, ">H", 0xffff),
                                  (0xce, ">I", 0xffffffff), (0xcf, ">Q", 2**64 - 1)):
                if o <= lim:
                    out.append(tag)
                    out += struct.pack(fmt, o)
                    break
        else:
            out.append(0xd3)
            out += struct.pack(">q", o)
    elif isinstance(o, (str, bytes)):
        b = o.encode() if isinstance(o, str) else o
        n = len(b)
        if isinstance(o, str) and n <= 31:
            out.append(0xa0 | n)
        elif n <= 0xff:
            out += bytes([0xd9 if isinstance(o, str) else 0xc4, n])
        elif n <= 0xffff:
            out.append(0xda if isinstance(o, str) else 0xc5)
            out += struct.pack(">H", n)
        else:
            out.append(0xdb if isinstance(o, str) else 0xc6)
            out += struct.pack(">I", n)
        out += b
    elif isinstance(o, (list, tuple)):
        n = len(o)
        if n <= 15:
            out.append(0x90 | n)
        elif n <= 0xffff:
            out.append(0xdc)
            out += struct.pack(">H", n)
        else:
            out.append(0xdd)
            out += struct.pack(">I", n)
        for x in o:
            _pack(x, out)
    elif isinstance(o, dict):
        n = len(o)
        if n <= 15:
            out.append(0x80 | n)
        elif n <= 0xffff:
            out.append(0xde)
            out += struct.pack(">H", n)
        else:
            out.append(0xdf)
            out += struct.pack(">I", n)
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    else:
        raise TypeError(f"cannot pack {type(o)}")


def _unpack(b, i):
    t = b[i]
    i += 1
    if t <= 0x7f:
        return t, i
    if t >= 0xe0:
        return t - 256, i
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i:i + n].decode(), i + n
    if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd) or 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        ismap = 0x80 <= t <= 0x8f or t in (0xde, 0xdf)
        if t in (0xdc, 0xde):
            (n,) = struct.unpack_from(">H", b, i)
            i += 2
        elif t in (0xdd, 0xdf):
            (n,) = struct.unpack_from(">I", b, i)
            i += 4
        else:
            n = t & 0x0f
        if ismap:
            d = {}
            for _ in range(n):
                k, i = _unpack(b, i)
                d[k], i = _unpack(b, i)
            return d, i
        lst = []
        for _ in range(n):
            v, i = _unpack(b, i)
            lst.append(v)
        return lst, i
    fixed = {0xc0: (None, 0), 0xc2: (False, 0), 0xc3: (True, 0)}
    if t in fixed:
        return fixed[t][0], i
    ints = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
            0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
    if t in ints:
        v = struct.unpack_from(ints[t], b, i)[0]
        return v, i + struct.calcsize(ints[t])
    if t in (0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6):
        w = {0xd9: 1, 0xc4: 1, 0xda: 2, 0xc5: 2, 0xdb: 4, 0xc6: 4}[t]
        n = int.from_bytes(b[i:i + w], "big")
        i += w
        raw = bytes(b[i:i + n])
        return (raw.decode() if t in (0xd9, 0xda, 0xdb) else raw), i + n
    raise ValueError(f"unsupported msgpack byte 0x{t:02x}")

HELLO, WELCOME, BATCH, ACK, ERROR = 1, 2, 3, 4, 5
SLI, INPUT = 0, 1
APPLIED, DUPLICATE, GAP, REJECTED, RETRY = 0, 1, 2, 3, 4
STATUS_NAMES = {APPLIED: "applied", DUPLICATE: "duplicate", GAP: "gap",
                REJECTED: "rejected", RETRY: "retry"}
VERSION = 1
# ACK "reason" with REJECTED (docs/PROTOCOL.md)
REJECT_STALE_EPOCH, REJECT_INVALID = 1, 2


def frame(body):
    """Length-prefix raw msgpack bytes."""
    return struct.pack(">I", len(body)) + body


def encode(msg):
    """One whole frame for a dict message; "t" goes first as the decoder requires."""
    ordered = {"t": msg["t"]}
    ordered.update((k, v) for k, v in msg.items() if k != "t")
    return frame(packb(ordered))


def hello(agent, epoch, token, version=VERSION, instance=None):
    m = {"t": HELLO, "v": version, "agent": agent, "epoch": epoch, "token": token}
    if instance:
        m["instance"] = instance
    return encode(m)


def series(name, rows, since=1, kind=SLI):
    """rows: iterable of (minute, good, bad, excluded) or (minute, lines, unparsed, oversize)."""
    return {"k": kind, "n": name, "since": since, "rows": [list(r) for r in rows]}


def batch(agent, epoch, seq, series_list, created_ms=0):
    return encode({"t": BATCH, "agent": agent, "epoch": epoch, "seq": seq,
                   "created": created_ms, "series": list(series_list)})


def decode_body(body):
    return unpackb(body)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def recv_frame(sock):
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    return decode_body(recv_exact(sock, n))


class ProtoClient:
    """A blocking agent stand-in: hello(), send_batch(), recv_ack()."""

    def __init__(self, host, port, token, agent, epoch, timeout=10.0, instance=None):
        self.agent = agent
        self.epoch = epoch
        self.instance = instance
        self.token = token
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def hello(self):
        """Sends HELLO and returns the answer (a WELCOME or ERROR dict)."""
        self.sock.sendall(hello(self.agent, self.epoch, self.token, instance=self.instance))
        return recv_frame(self.sock)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_batch(self, seq, series_list, since=None):
        """series_list: list of series() dicts, or of (name, rows) pairs using since."""
        out = []
        for s in series_list:
            if isinstance(s, dict):
                out.append(s)
            else:
                name, rows = s
                out.append(series(name, rows, since=since or 1))
        self.sock.sendall(batch(self.agent, self.epoch, seq, out))

    def recv(self):
        return recv_frame(self.sock)

    def recv_ack(self):
        m = recv_frame(self.sock)
        if m.get("t") != ACK:
            raise AssertionError(f"expected an ack, got {m!r}")
        return m

    def closed(self, timeout=5.0):
        """True when the server closed the connection within timeout (reads until EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
