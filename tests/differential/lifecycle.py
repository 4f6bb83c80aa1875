"""Lifecycle ops of the differential test, mixed into run.Runner.

  * restart: both servers stop (SIGKILL or SIGTERM), start again on the same data
    dirs and ports; every slot's session reconnects with its id and password
    (and re-registers its watches with setWatches2), then the trees are compared.
  * expire: a session with the smallest timeout creates ephemerals, other slots
    watch them, then the session goes silent (socket closed without
    closeSession, or left open without pings); both servers must remove the
    ephemerals and fire the same watches.
  * reap: both servers restart with a short container check interval, the
    driver waits until neither has a container or TTL node left that
    ContainerManager would delete, then both restart with the long interval
    again and the trees and the watch events are compared.

Every wait here is a bounded poll of a condition on both servers, never a
fixed sleep: a slow machine makes a run slower, not a mismatch.
"""

import time

import zkwire
from zkwire import Session, Op, ConnectionClosed, ZKWireError, OPEN_ACL_UNSAFE
from servers import restart_all, CONTAINER_CHECK_MS, REAP_CHECK_MS
import fourlw

# The expiring session asks for 1 ms and gets the floor, 2 ticks (servers.TICK_MS).
EXPIRE_TIMEOUT_MS = 1
# A TTL node this close (ms) to its expiry is neither "must be reaped" nor "must stay":
# the driver waits until it is past its TTL and reaped on both servers. The band also
# covers the time from the last check to both servers being stopped again.
TTL_BAND_MS = 10000


class LifecycleOps:
    """Mixin for run.Runner (uses self.sides, self.model, self.args, self.r, compare, audit...)."""

    # ------------------------------------------------------------ bounded waits
    def wait_closed(self, pairs):
        """[(session on A, session on B)] -> [(closed on A, closed on B)].

        Waits until every socket is closed, or, once the short window (--close-wait) has passed,
        until each pair agrees; a pair that disagrees gets up to --close-wait-max seconds for the
        slower server to close too. So one server closing later than the other is not a mismatch;
        one closing while the other keeps the connection open past the generous bound is."""
        start = time.monotonic()
        short, generous = start + self.args.close_wait, start + self.args.close_wait_max
        while True:
            for pair in pairs:
                for s in pair:
                    if not s.closed:
                        s.expect_close(0.05)
            now = time.monotonic()
            if all(s.closed for pair in pairs for s in pair):
                break
            if now > short and all(a.closed == b.closed for a, b in pairs):
                break
            if now > generous:
                break
            self.keepalive()
        return [(a.closed, b.closed) for a, b in pairs]

    def wait_both(self, what, condition, deadline_s, together=False):
        """Polls condition(side) on each side until it holds on both, or the deadline; compares
        the outcome (so a server that never gets there is a mismatch) and returns it. With
        `together`, both are polled every round until it holds on both in the same round (for a
        condition that can come and go)."""
        done = [False, False]
        deadline = time.monotonic() + deadline_s
        while True:
            for i, side in enumerate(self.sides):
                if together or not done[i]:
                    done[i] = bool(condition(side))
            if all(done) or time.monotonic() > deadline:
                break
            self.keepalive()
            time.sleep(0.1)   # poll interval, bounded by the deadline above
        self.compare('%s (within %.0fs)' % (what, deadline_s), done[0], done[1])
        return done[0]

    def end_probes(self, probes):
        """Closes the driver's helper sessions (closeSession, as a client would), both sides."""
        out = []
        for side, s in zip(self.sides, probes):
            try:
                rep = s.close_session()
                out.append(side.nreply(rep, self.args.sort_auth)[2:4])
            except ConnectionClosed:
                out.append('connection-closed')
            s.close()
        self.compare('closing the probe sessions', out[0], out[1])

    # ------------------------------------------------------------ restart
    def restart_servers(self, kill, container_check_ms=CONTAINER_CHECK_MS):
        restart_all([side.server for side in self.sides], kill, self.args.ready_timeout,
                    container_check_ms)
        self.counts['(restart-%s)' % ('kill' if kill else 'term')] += 1

    def do_restart(self, kill):
        """A restart op: both servers go down and up; sessions resume; trees compared."""
        self.barrier_and_compare_events(True)
        self.restart_servers(kill)
        self.resume_all_slots()

    def resume_all_slots(self):
        for slot in range(self.args.sessions):
            self.resume_slot(slot)
        # The tree first (a difference there explains any in the watch events that follow).
        self.audit()
        self.barrier_and_compare_events(True)

    def resume_slot(self, slot):
        """After a restart: the slot's session reconnects with its id and password (a new socket;
        the old one died with the server) and re-registers the watches the client model holds."""
        sm = self.model.slots[slot]
        sm.users = []
        res, survived = [], []
        for side in self.sides:
            old = side.sessions[slot]
            stray = [e.key() for e in old.poll_events()] if not old.closed else []
            old.take_events()
            old.close()
            try:
                s = Session(side.host, side.port, timeout_ms=side.timeout_ms,
                            session_id=old.session_id, passwd=old.passwd,
                            last_zxid_seen=old.last_zxid)
                s.xid = old.xid
                side.sessions[slot] = s
                same = s.session_id == old.session_id and not s.closed
                survived.append(same)
                out = [side.nconnect(s, sm.label()), ('same-session', same), ('stray-events', stray)]
                if sm.has_watches() and not s.closed:
                    rep = s.set_watches2(s.last_zxid, sorted(sm.w_data), sorted(sm.w_exist),
                                         sorted(sm.w_child), sorted(sm.w_pers), sorted(sm.w_rec))
                    out.append(side.nreply(rep, self.args.sort_auth))
                res.append(out)
            except (ConnectionClosed, OSError, ZKWireError) as e:
                survived.append(False)
                res.append(('resume-failed', type(e).__name__, str(e)))
        self.compare('session of slot %d resumed after the restart' % slot, res[0], res[1])
        # A session reconnecting well within its timeout survives a restart in ZooKeeper: losing it
        # on both sides would compare equal but is still wrong (and flags a driver bug). A reap
        # round leaves the sessions unattended while the servers reap; past half the timeout
        # (a slow machine) they may expire, on both, and that is not required.
        if not all(survived) and self.unattended_s < self.args.session_timeout / 2000.0:
            self.fail('session of slot %d did not survive the restart' % slot, res[0], res[1])
        self.counts['(sessions-resumed)'] += 1

    # ------------------------------------------------------------ expiry
    def do_expire(self):
        """A session left to expire: its ephemerals go, other sessions' watches fire, and the
        session can no longer be resumed."""
        r, m, sa = self.r, self.model, self.args.sort_auth
        self.expiries_done += 1
        label = 'X%d' % self.expiries_done
        silent_socket = r.random() < 0.5   # else the socket is closed without closeSession
        specs = [(m.path('new'), r.choice([zkwire.EPHEMERAL, zkwire.EPHEMERAL_SEQUENTIAL]), m.data() or b'')
                 for _ in range(r.randint(1, 3))]
        self.cur_op = {'op': 'expire', 'session': label, 'silent_socket': silent_socket, 'creates': specs}
        doomed, res, reps_a = [], [], []
        for side in self.sides:
            s = Session(side.host, side.port, timeout_ms=EXPIRE_TIMEOUT_MS)
            doomed.append(s)
            out = [side.nconnect(s, label)]
            for path, flags, data in specs:
                rep = s.call(Op.create2, zkwire.enc_create(path, data, OPEN_ACL_UNSAFE, flags))
                out.append(side.nreply(rep, sa))
                if side is self.sides[0]:
                    reps_a.append(rep)
            res.append(out)
        self.compare('expiring session %s: connect and creates' % label, res[0], res[1])
        created = [rep.resp['path'] for rep in reps_a if rep.err == 0]
        for p in created:
            m.add(p)
        self.watch_for_expiry(created)
        if not silent_socket:
            for s in doomed:
                s.close()
        self.counts['(expire-%s)' % ('silent' if silent_socket else 'closed')] += 1
        # Polled from a session of its own, so the slots' sessions see the same requests on both.
        probes = [Session(side.host, side.port, timeout_ms=self.args.session_timeout) for side in self.sides]

        def gone(side):
            # The session has left the session tracker (4lw dump; this does not touch it, as a
            # resume attempt would) and its ephemerals are gone.
            if label in fourlw.ask(side, 'dump')[1]:
                return False
            s = probes[self.sides.index(side)]
            return all(s.exists(p, False).err == -101 for p in created)
        self.wait_both('session %s expired and its ephemerals removed' % label, gone, self.args.expire_wait)
        self.end_probes(probes)
        if silent_socket:
            # The server closes the connection of the session it expired.
            closed = self.wait_closed([tuple(doomed)])
            self.compare('connection of expired session %s closed by the server' % label, *closed[0])
        restarted = self.counts['(restart-kill)'] + self.counts['(restart-term)'] > 0
        self.barrier_and_compare_events(True, unordered=restarted)
        out = []
        for side, old in zip(self.sides, doomed):
            old.close()
            again = Session(side.host, side.port, timeout_ms=EXPIRE_TIMEOUT_MS,
                            session_id=old.session_id, passwd=old.passwd, last_zxid_seen=old.last_zxid)
            out.append(again)
        closed = self.wait_closed([tuple(out)])

        def outcome(again, old, closed):
            same = again.session_id == old.session_id
            return (again.negotiated_timeout, 'same' if same else again.session_id and 'other', closed)
        self.compare('resuming expired session %s' % label, outcome(out[0], doomed[0], closed[0][0]),
                     outcome(out[1], doomed[1], closed[0][1]))
        for s in out:
            s.close()
        for p in created:
            m.remove(p)
        self.counts['(ephemerals-expired)'] += len(created)

    def watch_for_expiry(self, created):
        """Other slots watch the doomed ephemerals and their parents (as random ops would)."""
        live = [slot for slot in range(self.args.sessions)
                if not any(side.sessions[slot].closed for side in self.sides)]
        for p in created:
            parent = p.rsplit('/', 1)[0] or '/'
            for name, path in (('exists', p), ('getData', p), ('getChildren', parent)):
                if not live or self.r.random() < 0.3:
                    continue
                op = {'op': name, 'slot': self.r.choice(live), 'path': path, 'watch': True}
                ra, rep_a = self.run_on(self.sides[0], op)
                rb, _ = self.run_on(self.sides[1], op)
                self.compare('watch before expiry: %s' % name, ra, rb)
                self.update_model(op, rep_a)

    # ------------------------------------------------------------ container / TTL reaping
    def do_reap(self, kills):
        """Both servers reap with a short check interval while no client is connected; the
        slots resume afterwards, so the watch events of reaped nodes come from setWatches2's
        catch-up (deterministic), and the trees are compared."""
        self.seed_reapable_nodes()
        self.barrier_and_compare_events(True)
        before = self.reap_pending(self.sides[0].sessions[0])
        self.restart_servers(kills[0], REAP_CHECK_MS)
        unattended_from = time.monotonic()
        probes = [Session(side.host, side.port, timeout_ms=self.args.session_timeout) for side in self.sides]
        self.compare('reap probe sessions', probes[0].closed, probes[1].closed)
        reaped = {}

        def settled(side):
            s = probes[self.sides.index(side)]
            pending = self.reap_pending(s)
            reaped[side.name] = pending
            return not pending
        start = time.monotonic()
        try:
            self.wait_both('containers and expired TTL nodes reaped', settled, self.args.reap_wait, together=True)
        except Exception as e:
            details = ['%s still has %r' % (name, [(p, self.model.reapable.get(p)) for p in paths])
                       for name, paths in sorted(reaped.items())]
            raise type(e)('%s\n  %s' % (e, '\n  '.join(details)))
        self.reap_seconds += time.monotonic() - start
        self.end_probes(probes)
        self.unattended_s = time.monotonic() - unattended_from
        self.restart_servers(kills[1], CONTAINER_CHECK_MS)
        self.resume_all_slots()
        self.unattended_s = 0.0
        self.counts['(nodes-reaped)'] += sum(1 for p in before if p not in self.model.known)

    def seed_reapable_nodes(self):
        """So that every reap round has work: a container that had a child, and a TTL node of
        1 ms, made by ordinary (compared) ops of a live slot."""
        slot = next(slot for slot in range(self.args.sessions)
                    if not any(side.sessions[slot].closed for side in self.sides))
        base = '/reap%d' % (self.counts['reap'])
        ops = [{'op': 'createContainer', 'path': base + 'c', 'flags': 4},
               {'op': 'create', 'path': base + 'c/x', 'flags': 0},
               {'op': 'delete', 'path': base + 'c/x', 'version': -1},
               {'op': 'createTTL', 'path': base + 't', 'flags': 5, 'ttl': 1}]
        for op in ops:
            op.update(slot=slot)
            if op['op'] != 'delete':
                op.update(data=b'r', acl=('open', OPEN_ACL_UNSAFE))
            ra, rep_a = self.run_on(self.sides[0], op)
            rb, _ = self.run_on(self.sides[1], op)
            self.compare('reap setup: %s %s' % (op['op'], op['path']), ra, rb)
            self.update_model(op, rep_a)

    def reap_pending(self, s):
        """Paths ContainerManager would still delete (or may delete soon) on this server: empty
        containers that had a child (cversion > 0), and childless TTL nodes past (or within
        TTL_BAND_MS of) their TTL since their mtime. Which nodes are containers or TTL nodes
        comes from the model (a client's stat shows ephemeralOwner 0 for both)."""
        now_ms = int(time.time() * 1000)
        pending = []
        for p, kind in sorted(self.model.reapable.items()):
            rep = s.exists(p, False)
            if rep.err != 0:
                continue
            st = rep.resp['stat']
            if st.numChildren != 0:
                continue
            if kind[0] == 'container' and st.cversion > 0:
                pending.append(p)
            elif kind[0] == 'ttl' and kind[1] > 0 and now_ms - st.mtime > kind[1] - TTL_BAND_MS:
                # Past its TTL: must go. Within the band below it: wait until it is past.
                pending.append(p)
        return pending
