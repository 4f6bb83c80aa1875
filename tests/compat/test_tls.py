"""Clients over TLS on secureClientPort, and the x509 ACL scheme.

The module starts its own server with a secure port (plus the plain one the readiness check
uses): Apache ZooKeeper 3.8 under ZK_TARGET=apache, a standalone Paddock otherwise (under
ZK_TARGET=paddock-ensemble too: the members of the shared ensemble would all want the one
secureClientPort of their common zoo.cfg, and TLS sits in front of the same client pipeline
there). Certificates are made with openssl in a temporary directory when the module runs.

The same zoo.cfg serves both servers: ZooKeeper forwards every key it does not know as a
``zookeeper.<key>`` system property, which is where its ssl.*, serverCnxnFactory,
authProvider.* and X509AuthenticationProvider.superUser settings live.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

import servers
from servers import HOST, Server, free_port, target

OPENSSL = "/usr/bin/openssl"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
CONNECT_TIMEOUT_S = 15.0
ZKCLI_TIMEOUT_S = 60.0

# openssl -subj, and the DN as Java's X500Principal.getName() prints it (RFC 2253, last RDN first;
# the comma escaped; emailAddress has no RFC 2253 keyword, so it is its OID and the hex of its DER).
CLIENT1_SUBJECT = "/C=US/O=Paddock, Inc./OU=eng/CN=client1/emailAddress=c1@example.com"
CLIENT1_DN = ("1.2.840.113549.1.9.1=#160e6331406578616d706c652e636f6d,"
              "CN=client1,OU=eng,O=Paddock\\, Inc.,C=US")
CLIENT2_SUBJECT = "/O=Paddock/OU=eng/CN=client2"
ADMIN_SUBJECT = "/O=Paddock/CN=admin"
ADMIN_DN = "CN=admin,O=Paddock"

# Debian's zookeeper.jar names netty-handler, -transport, -buffer and -common in its manifest but
# not netty-codec, netty-resolver and the epoll transport's unix-common, which Netty's TLS client
# and server need: without them zkCli's ClientCnxnSocketNetty and NettyServerCnxnFactory fail
# with NoClassDefFoundError. They are added to the class path (zkCli.sh passes CLIENT_JVMFLAGS
# after its own -cp, and the last -cp wins).
NETTY_JARS = ["/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
              "/usr/share/java/netty-transport-native-unix-common.jar"]
ZKCLI_CLASSPATH = ":".join(["/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar", *NETTY_JARS])

LEAF_EXTENSIONS = """basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


def openssl(directory: str, *args: str) -> None:
    proc = subprocess.run([OPENSSL, *args], cwd=directory, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"openssl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"


class Certificates:
    """A CA; a server certificate for 127.0.0.1; client1, client2 and admin signed by the CA;
    `other` signed by a CA the server does not trust. Each `<name>.pem` holds key + certificate
    (ZooKeeper's PEM key store), `<name>.crt`/`<name>.key` the halves kazoo takes."""

    def __init__(self) -> None:
        assert os.access(OPENSSL, os.X_OK), f"{OPENSSL} missing (Debian package openssl; run tools/install-deps --test)"
        self.directory = tempfile.mkdtemp(prefix="paddock-compat-tls-")
        with open(os.path.join(self.directory, "leaf.ext"), "w") as handle:
            handle.write(LEAF_EXTENSIONS)
        for ca, subject in (("ca", "/O=Paddock Test CA/CN=Paddock Test CA"), ("other-ca", "/CN=Another CA")):
            openssl(self.directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                    "-out", f"{ca}.pem", "-days", "3650", "-subj", subject)
        for name, subject, ca in (("server", "/O=Paddock/CN=localhost", "ca"), ("client1", CLIENT1_SUBJECT, "ca"),
                                  ("client2", CLIENT2_SUBJECT, "ca"), ("admin", ADMIN_SUBJECT, "ca"),
                                  ("other", "/O=Paddock/CN=client1", "other-ca")):
            openssl(self.directory, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                    "-out", f"{name}.csr", "-subj", subject)
            openssl(self.directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                    "-CAcreateserial", "-out", f"{name}.crt", "-days", "3650", "-extfile", "leaf.ext")
            with open(self.path(f"{name}.pem"), "w") as out:
                for part in (f"{name}.key", f"{name}.crt"):
                    with open(self.path(part)) as handle:
                        out.write(handle.read())

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def certs():
    made = Certificates()
    yield made
    made.remove()


class NettyServer(Server):
    """Apache ZooKeeper with the Netty jars its Debian manifest leaves out (NETTY_JARS)."""

    def command(self):
        command = super().command()
        if self.kind == "apache":
            index = command.index("-cp") + 1
            command[index] = ":".join(servers.APACHE_CLASSPATH + NETTY_JARS)
        return command


@pytest.fixture(scope="module")
def tls_server(certs):
    kind = "apache" if target() == "apache" else "paddock"
    secure_port = free_port()
    server = NettyServer(kind=kind, name="tls", extra_cfg={
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "secureClientPort": str(secure_port),
        "secureClientPortAddress": HOST,
        "ssl.keyStore.location": certs.path("server.pem"),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": certs.path("ca.pem"),
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": "need",
        "authProvider.x509": "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
        "X509AuthenticationProvider.superUser": ADMIN_DN,
    })
    server.start()
    server.secure_port = secure_port
    yield server
    server.stop()


def tls_client(server, certs, name: str) -> KazooClient:
    client = KazooClient(hosts=f"{HOST}:{server.secure_port}", use_ssl=True, ca=certs.path("ca.pem"),
                         certfile=certs.path(f"{name}.crt"), keyfile=certs.path(f"{name}.key"),
                         verify_certs=True, timeout=10.0)
    client.start(timeout=CONNECT_TIMEOUT_S)
    return client


def test_kazoo_x509_acl_grants_the_certificate_subject_only(tls_server, certs):
    path = f"/tls-kazoo-{os.getpid()}-{time.monotonic_ns()}"
    owner = tls_client(tls_server, certs, "client1")
    try:
        owner.create(path, b"secret", acl=[make_acl("x509", CLIENT1_DN, all=True)])
        assert owner.get(path)[0] == b"secret"
        assert owner.get_acls(path)[0][0].id.id == CLIENT1_DN
        other = tls_client(tls_server, certs, "client2")
        try:
            with pytest.raises(NoAuthError):
                other.get(path)
            with pytest.raises(NoAuthError):
                other.set(path, b"stolen")
        finally:
            other.stop()
            other.close()
        admin = tls_client(tls_server, certs, "admin")
        try:
            assert admin.get(path)[0] == b"secret", "X509AuthenticationProvider.superUser reads anything"
        finally:
            admin.stop()
            admin.close()
    finally:
        owner.stop()
        owner.close()


def test_zkcli_connects_over_tls(tls_server, certs):
    assert os.access(ZKCLI, os.X_OK), f"{ZKCLI} missing (Debian package zookeeper; run tools/install-deps)"
    path = f"/tls-zkcli-{os.getpid()}-{time.monotonic_ns()}"
    for jar in NETTY_JARS:
        assert os.path.exists(jar), f"{jar} missing (Debian package libnetty-java; run tools/install-deps --test)"
    flags = " ".join([
        f"-cp {ZKCLI_CLASSPATH}",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        "-Dzookeeper.client.secure=true",
        f"-Dzookeeper.ssl.keyStore.location={certs.path('client1.pem')}",
        "-Dzookeeper.ssl.keyStore.type=PEM",
        f"-Dzookeeper.ssl.trustStore.location={certs.path('ca.pem')}",
        "-Dzookeeper.ssl.trustStore.type=PEM",
    ])
    env = dict(os.environ, JAVA=os.environ.get("JAVA", "/usr/bin/java"), CLIENT_JVMFLAGS=flags)
    # A node only client1's certificate may read (zkCli's ACL syntax splits on the DN's commas,
    # so kazoo makes it): zkCli reading it shows the TLS session carries client1's x509 id.
    owner = tls_client(tls_server, certs, "client1")
    try:
        owner.create(path, b"over-tls", acl=[make_acl("x509", CLIENT1_DN, all=True)])
    finally:
        owner.stop()
        owner.close()
    proc = subprocess.run([ZKCLI, "-server", f"{HOST}:{tls_server.secure_port}", "get", path],
                          capture_output=True, text=True, timeout=ZKCLI_TIMEOUT_S, stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode == 0 and "over-tls" in proc.stdout.splitlines(), \
        f"zkCli over TLS: exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    received = b""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the secure port left a plain client hanging for {timeout}s (got {received!r})"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def test_plain_client_on_the_secure_port_is_refused_cleanly(tls_server, certs):
    # A ZooKeeper ConnectRequest in the clear: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd.
    connect = (0).to_bytes(4, "big") + (0).to_bytes(8, "big") + (10000).to_bytes(4, "big") \
        + (0).to_bytes(8, "big") + (16).to_bytes(4, "big") + bytes(16)
    with socket.create_connection((HOST, tls_server.secure_port), timeout=5.0) as sock:
        sock.sendall(len(connect).to_bytes(4, "big") + connect)
        answer = read_until_closed(sock, timeout=20.0)
    # At most a TLS alert record (content type 21), never a ConnectResponse.
    assert answer == b"" or answer[0] == 0x15, f"unexpected answer to a plain client: {answer!r}"
    # A kazoo client without TLS gives up in bounded time instead of hanging.
    plain = KazooClient(hosts=f"{HOST}:{tls_server.secure_port}", timeout=2.0)
    try:
        with pytest.raises(Exception):
            plain.start(timeout=4.0)
    finally:
        plain.stop()
        plain.close()
    # An untrusted certificate is refused too.
    with pytest.raises(Exception):
        untrusted = tls_client_with_timeout(tls_server, certs, "other", 4.0)
        untrusted.stop()
        untrusted.close()
    # Everyone else is still served, over TLS and in the clear.
    client = tls_client(tls_server, certs, "client2")
    try:
        path = f"/tls-after-{os.getpid()}-{time.monotonic_ns()}"
        client.create(path, b"still here")
        assert client.get(path)[0] == b"still here"
    finally:
        client.stop()
        client.close()
    assert "Mode: standalone" in tls_server.four_letter("srvr")


def tls_client_with_timeout(server, certs, name: str, timeout: float) -> KazooClient:
    client = KazooClient(hosts=f"{HOST}:{server.secure_port}", use_ssl=True, ca=certs.path("ca.pem"),
                         certfile=certs.path(f"{name}.crt"), keyfile=certs.path(f"{name}.key"),
                         verify_certs=True, timeout=2.0)
    try:
        client.start(timeout=timeout)
    except BaseException:
        client.stop()
        client.close()
        raise
    return client
