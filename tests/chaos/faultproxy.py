"""A TCP fault proxy for the chaos suite: listens on a loopback port and forwards every
connection to one upstream address, with faults switched on and off while it runs.

Faults (all may be combined, each counted in `faults`):
  latency      seconds added before each chunk is forwarded (both directions)
  bandwidth    bytes per second per direction (a cap; 0 = none)
  segment      forward in pieces of this many bytes, each its own send() (tiny TCP segments)
  blackhole    nothing is read or forwarded and new connections are held, never connected
               upstream, until it is switched off: the peers see a silent network
  refuse       new connections are closed at once
  reset()      every open connection is closed with a RST (SO_LINGER 0) on both sides
  cut_mid()    the next chunk going upstream is forwarded only in part, then both sides reset:
               the receiver holds the first bytes of a frame whose rest never comes

Threads, standard library only: two pump threads per connection, one accept thread."""
import socket
import struct
import threading
import time

CHUNK = 65536


def _rst(sock):
    """Close with a RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1", name="proxy"):
        self.name = name
        self.upstream = (upstream_host, upstream_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.latency = 0.0
        self.bandwidth = 0
        self.segment = 0
        self.blackhole = False
        self.refuse = False
        self._cut = 0  # bytes to let through of the next upstream chunk before a reset
        self.faults = 0
        self.connections = 0
        self.bytes = [0, 0]  # upstream, downstream
        self.pairs = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # ---- control -------------------------------------------------------------------------
    def set(self, latency=None, bandwidth=None, segment=None, blackhole=None, refuse=None):
        """Switches faults; each switch to a non-zero value counts as one fault injected."""
        with self.lock:
            for attr, val in (("latency", latency), ("bandwidth", bandwidth),
                              ("segment", segment), ("blackhole", blackhole),
                              ("refuse", refuse)):
                if val is None:
                    continue
                if val and val != getattr(self, attr):
                    self.faults += 1
                setattr(self, attr, val)

    def clear(self):
        with self.lock:
            self.latency = 0.0
            self.bandwidth = 0
            self.segment = 0
            self.blackhole = False
            self.refuse = False
            self._cut = 0

    def reset(self):
        """RST every open connection (both sides). Returns how many were reset."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
            if pairs:
                self.faults += 1
        for a, b in pairs:
            _rst(a)
            if b is not None:
                _rst(b)
        return len(pairs)

    def cut_mid(self, keep=7):
        """The next chunk sent upstream is cut after `keep` bytes, then both sides reset."""
        with self.lock:
            self._cut = max(1, keep)

    def open_connections(self):
        with self.lock:
            return len(self.pairs)

    def stop(self):
        self.stopped = True
        try:
            self.lsock.close()
        except OSError:
            pass
        self.reset()

    # ---- machinery -----------------------------------------------------------------------
    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with self.lock:
            refuse = self.refuse
        if refuse:
            _rst(c)
            return
        entry = [c, None]
        with self.lock:
            self.pairs.append(entry)
            self.connections += 1
        while self._holding() and not self.stopped:
            time.sleep(0.05)
        if not self._alive(entry):
            return
        try:
            u = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            self._drop(entry)
            return
        u.settimeout(None)
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            if entry not in self.pairs:
                _rst(u)
                return
            entry[1] = u
        threading.Thread(target=self._pump, args=(entry, c, u, 0), daemon=True).start()
        threading.Thread(target=self._pump, args=(entry, u, c, 1), daemon=True).start()

    def _holding(self):
        with self.lock:
            return self.blackhole

    def _alive(self, entry):
        with self.lock:
            return entry in self.pairs

    def _drop(self, entry):
        with self.lock:
            if entry in self.pairs:
                self.pairs.remove(entry)
        _rst(entry[0])
        if entry[1] is not None:
            _rst(entry[1])

    def _pump(self, entry, src, dst, direction):
        try:
            while True:
                while self._holding() and self._alive(entry):
                    time.sleep(0.05)
                data = src.recv(CHUNK)
                if not data:
                    # a clean FIN: pass it on
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                with self.lock:
                    latency, bw, seg = self.latency, self.bandwidth, self.segment
                    cut = self._cut if direction == 0 else 0
                    if cut:
                        self._cut = 0
                        self.faults += 1
                if latency:
                    time.sleep(latency)
                while self._holding() and self._alive(entry):
                    time.sleep(0.05)
                if cut:
                    dst.sendall(data[:min(cut, len(data) - 1 or 1)])
                    time.sleep(0.05)
                    self._drop(entry)
                    return
                step = seg or len(data)
                for i in range(0, len(data), step):
                    piece = data[i:i + step]
                    dst.sendall(piece)
                    self.bytes[direction] += len(piece)
                    if bw:
                        time.sleep(len(piece) / bw)
                    elif seg:
                        time.sleep(0.0005)
        except OSError:
            pass
        finally:
            self._drop(entry)
