"""Submission folders and network listeners that several tests build."""
import socket
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
