"""Taking over an Apache member's data carries its ZAB epochs, and they protect the ensemble.

A real Apache ZooKeeper 3.8 ensemble moves through three epochs, the last with no write, so
member 1's acceptedEpoch (3) is newer than its last txn's epoch (2). `paddock server` is then
started on a copy of member 1's dataDir (it imports it by itself) in an ensemble whose other
two members are played by this test: they tell it, over the real election protocol, that
member 2 leads, and member 2's quorum port answers FOLLOWERINFO with LEADERINFO for epoch 2 —
a leader deposed by epoch 3. The imported member must refuse it, by name, in its log. Control:
the same data with the epoch files deleted (a member that forgot its promise) accepts epoch 2
and answers ACKEPOCH, which shows the refusal comes from the carried epochs. Every wait is
bounded."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mixed_ensemble import (BINARY, ApacheMember, ensemble, settled, stop, wait_for, zxid_of)  # noqa: E402
from paddock_ensemble import member_port  # noqa: E402

LOOKING, FOLLOWING, LEADING = 0, 1, 2
FOLLOWERINFO, LEADERINFO, ACKEPOCH = 11, 17, 18
PROTOCOL_VERSION = 0x10000


def notification(state, leader, zxid, election_epoch, peer_epoch):
    body = struct.pack('>iqqqqii', state, leader, zxid, election_epoch, peer_epoch, 2, 0)
    return struct.pack('>i', len(body)) + body


def handshake(sid, address):
    return struct.pack('>qqi', -65536, sid, len(address)) + address


def quorum_packet(kind, zxid, data):
    return struct.pack('>iqi', kind, zxid, len(data)) + data + struct.pack('>i', -1)


def read_exactly(sock, count):
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError('closed after %d of %d bytes' % (len(data), count))
        data += chunk
    return data


def read_quorum_packet(sock):
    kind, zxid, length = struct.unpack('>iqi', read_exactly(sock, 16))
    data = read_exactly(sock, length) if length > 0 else b''
    (auth,) = struct.unpack('>i', read_exactly(sock, 4))
    assert auth == -1, auth
    return kind, zxid, data


class FakeLeader:
    """Members 2 (leading) and 3 (following 2) as far as member 1 can tell: their votes on its
    election port, and member 2's quorum port, which answers FOLLOWERINFO with LEADERINFO for
    `epoch` and reports what came back."""

    def __init__(self, target_election_port, ports, epoch, zxid, protocol_version=PROTOCOL_VERSION):
        self.protocol_version = protocol_version
        self.target = target_election_port
        self.ports = ports
        self.epoch = epoch
        self.zxid = zxid
        self.follower_info = None
        self.reply = None          # ('ACKEPOCH', zxid, currentEpoch) or ('closed', reason)
        self.stop_event = threading.Event()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(('127.0.0.1', ports[2][0]))
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.threads = [threading.Thread(target=self.vote, daemon=True),
                        threading.Thread(target=self.lead, daemon=True)]
        for t in self.threads:
            t.start()

    def vote(self):
        """Re-sends both votes every 0.3 s on fresh connections until stopped."""
        while not self.stop_event.is_set():
            for sid, state in ((2, LEADING), (3, FOLLOWING)):
                try:
                    with socket.create_connection(('127.0.0.1', self.target), timeout=2) as s:
                        s.sendall(handshake(sid, b'127.0.0.1:%d' % self.ports[sid][1])
                                  + notification(state, 2, self.zxid, 5, self.epoch))
                        s.settimeout(0.3)
                        try:
                            while s.recv(4096):
                                pass
                        except OSError:
                            pass
                except OSError:
                    pass
            time.sleep(0.3)

    def lead(self):
        while not self.stop_event.is_set() and self.reply is None:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(10)
                try:
                    kind, zxid, data = read_quorum_packet(conn)
                    if kind != FOLLOWERINFO:
                        continue
                    self.follower_info = (zxid >> 32, struct.unpack('>q', data[:8])[0])
                    conn.sendall(quorum_packet(LEADERINFO, self.epoch << 32, struct.pack('>i', self.protocol_version)))
                    kind, zxid, data = read_quorum_packet(conn)
                    self.reply = ('ACKEPOCH' if kind == ACKEPOCH else 'packet %d' % kind, zxid,
                                  struct.unpack('>i', data[:4])[0] if len(data) >= 4 else None)
                except (EOFError, OSError) as e:
                    self.reply = ('closed', str(e))

    def close(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=10)
        self.server.close()


def apache_data_in_epoch_three(root):
    """Member 1's dataDir after a real Apache ensemble went through three elections, writes in
    the first two and none in the third: returns (dir, accepted epoch E, epoch L of the last
    txn). Apache usually numbers them 1, 2, 3; an election that needs a second round skips a
    number, so E and L are read, not assumed (E > L >= 2)."""
    layout = [(ApacheMember, 1, False), (ApacheMember, 2, False), (ApacheMember, 3, False)]
    with ensemble(layout) as members:
        one, two, three = members
        # 3 and 1 first, then 2: three JVMs started together could let 1 and 2 elect 2 before 3
        # is up (finalizeWait is 200 ms).
        for m in (three, one):
            m.start()
        wait_for(lambda: settled([one, three]) is three, 90, 'member 3 leading 1 (epoch 1)')
        two.start()
        wait_for(lambda: settled(members) is three, 90, 'member 3 leading (epoch 1)')
        write(members, 'epoch1')
        stop(three, signal.SIGKILL)
        wait_for(lambda: settled([one, two]) is two, 90, 'member 2 leading (epoch 2)')
        write([one, two], 'epoch2')
        last_txn_epoch = zxid_of(two) >> 32
        stop(two, signal.SIGKILL)
        three.start()
        wait_for(lambda: settled([one, three]) is not None, 90, 'a leader of 1 and 3 (epoch 3)')
        for m in (one, three):
            stop(m)
        target = os.path.join(root, 'apache-member1')
        shutil.copytree(one.data, target)
    with open(os.path.join(target, 'version-2', 'acceptedEpoch')) as f:
        accepted = int(f.read().strip())
    assert accepted > last_txn_epoch >= 2, (accepted, last_txn_epoch)
    return target, accepted, last_txn_epoch


def write(members, label):
    client = KazooClient(hosts=','.join(m.address for m in members), timeout=10)
    client.start(timeout=30)
    try:
        for i in range(5):
            client.create('/takeover/%s-%d' % (label, i), b'v', makepath=True)
    finally:
        client.stop()
        client.close()


def run_paddock_on(data, root, name, epoch=2, protocol_version=PROTOCOL_VERSION):
    """Starts `paddock server` as member 1 on `data` beside the fake members 2 and 3; returns
    (the fake, the process, its log path)."""
    ports = {sid: (member_port(), member_port()) for sid in (1, 2, 3)}
    client_port = member_port()
    cfg = os.path.join(root, name + '.cfg')
    with open(cfg, 'w') as f:
        f.write('\n'.join(['tickTime=200', 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % data,
                           'clientPort=%d' % client_port, 'clientPortAddress=127.0.0.1', '4lw.commands.whitelist=*',
                           'admin.enableServer=false']
                          + ['server.%d=127.0.0.1:%d:%d' % (sid, q, e) for sid, (q, e) in sorted(ports.items())]) + '\n')
    log_path = os.path.join(root, name + '.log')
    log = open(log_path, 'wb')
    proc = subprocess.Popen([BINARY, 'server', '--config', cfg], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    log.close()
    # The deposed leader of epoch 2 claims its last zxid is past member 1's.
    fake = FakeLeader(ports[1][1], ports, epoch=epoch, zxid=(epoch << 32) + 1000, protocol_version=protocol_version)
    return fake, proc, log_path


def test_imported_member_refuses_a_leader_of_an_older_epoch_and_one_that_forgot_accepts_it():
    root = tempfile.mkdtemp(prefix='paddock-takeover-')
    procs = []
    try:
        source, accepted, last = apache_data_in_epoch_three(root)
        carried = os.path.join(root, 'carried')
        forgot = os.path.join(root, 'forgot')
        shutil.copytree(source, carried)
        shutil.copytree(source, forgot)
        for name in ('acceptedEpoch', 'currentEpoch'):
            os.remove(os.path.join(forgot, 'version-2', name))

        fake, proc, log_path = run_paddock_on(carried, root, 'carried', epoch=last)
        procs.append(proc)
        try:
            wait_for(lambda: fake.reply is not None, 60, 'member 1 to answer LEADERINFO (log: %s)' % log_path)
            assert fake.follower_info == (accepted, 1), fake.follower_info   # FOLLOWERINFO names the accepted epoch
            assert fake.reply[0] == "closed", fake.reply
            print("carried epochs:", fake.follower_info, fake.reply)
            with open(log_path, errors='replace') as f:
                text = f.read()
            assert 'importing its snapshot, log, epochs and myid' in text
            assert "leader's epoch %d is less than our accepted epoch %d" % (last, accepted) in text, text[-3000:]
        finally:
            fake.close()
            proc.kill()
            proc.wait(timeout=30)

        fake, proc, log_path = run_paddock_on(forgot, root, 'forgot', epoch=last)
        procs.append(proc)
        try:
            wait_for(lambda: fake.reply is not None, 60, 'the forgetful member to answer LEADERINFO (log: %s)' % log_path)
            assert fake.follower_info == (last, 1), fake.follower_info   # its epoch is its last txn's
            assert fake.reply[0] == 'ACKEPOCH', fake.reply
            print('forgot epochs:', fake.follower_info, fake.reply)
        finally:
            fake.close()
            proc.kill()
            proc.wait(timeout=30)

        # A leader of a newer epoch that speaks a protocol older than ZooKeeper 3.4's is
        # refused too, by name.
        fake, proc, log_path = run_paddock_on(carried, root, 'old-protocol', epoch=accepted + 1, protocol_version=0)
        procs.append(proc)
        try:
            wait_for(lambda: fake.reply is not None, 60, 'member 1 to answer LEADERINFO (log: %s)' % log_path)
            assert fake.reply[0] == 'closed', fake.reply
            with open(log_path, errors='replace') as f:
                text = f.read()
            assert 'leader speaks quorum protocol version 0x0' in text and 'version mismatch' in text, text[-3000:]
        finally:
            fake.close()
            proc.kill()
            proc.wait(timeout=30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)
