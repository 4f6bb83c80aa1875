"""The admin HTTP server in an ensemble: each member serves it on its own `admin.serverPort`
(one zoo.cfg each, as ZooKeeper members sharing a host need), and the quorum commands
(zabstate, leader, voting_view, configuration) describe that member. Every wait is bounded."""

import json
import os
import sys
import tempfile
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from paddock_ensemble import PaddockEnsemble, wait_for  # noqa: E402


def command(member, name):
    url = 'http://127.0.0.1:%d/commands/%s' % (member.admin_port, name)
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return json.loads(response.read())


def answers(member, name):
    try:
        return command(member, name)
    except OSError:
        return None


@pytest.fixture
def ensemble():
    with tempfile.TemporaryDirectory(prefix='paddock-admin-ensemble-') as root:
        group = PaddockEnsemble(root, voters=3, observers=1, admin=True)
        group.start_all()
        try:
            yield group
        finally:
            group.close()


def test_each_member_answers_for_itself(ensemble):
    members = ensemble.members
    for m in members:
        wait_for(lambda: (answers(m, 'zabstate') or {}).get('zabstate') == 'broadcast', 30,
                 'member %d admin zabstate broadcast' % m.sid)
    states = {m.sid: command(m, 'zabstate') for m in members}
    leaders = [sid for sid, state in states.items() if state['is_leader']]
    assert len(leaders) == 1
    for m in members:
        state = states[m.sid]
        assert state['myid'] == m.sid and state['error'] is None
        assert state['voting'] is (not m.observer)
        assert state['quorum_address'] == '127.0.0.1:%d' % m.quorum_port
        assert state['election_address'] == '127.0.0.1:%d' % m.election_port
        assert state['last_zxid'].startswith('0x')
        lead = command(m, 'lead')
        assert lead['leader_id'] == leaders[0] and lead['is_leader'] is (m.sid == leaders[0])
        conf = command(m, 'conf')
        assert conf['server_id'] == m.sid and conf['client_port'] == m.client_port
        view = command(m, 'voting_view')['current_config']
        assert sorted(view) == [str(v.sid) for v in members if not v.observer]
        assert view[str(m.sid if not m.observer else leaders[0])]['learner_type'] == 'participant'
        expected = 'leader' if m.sid == leaders[0] else ('observer' if m.observer else 'follower')
        assert command(m, 'srvr')['server_stats']['server_state'] == expected
        assert command(m, 'ruok') == {'command': 'ruok', 'error': None}


def test_member_without_quorum_is_not_serving(ensemble):
    """Without a quorum a member elects: as in ZooKeeper (no server object then), the commands
    that need one answer "not currently serving", the others (monitor, environment, zabstate) answer."""
    voters = [m for m in ensemble.members if not m.observer]
    for m in voters[1:]:
        ensemble.stop(m)
    alone = voters[0]
    not_serving = 'This ZooKeeper instance is not currently serving requests'
    wait_for(lambda: (answers(alone, 'srvr') or {}).get('error') == not_serving, 60, 'member %d not serving' % alone.sid)
    for name in ('ruok', 'conf', 'cons', 'isro', 'wchs', 'lead'):
        assert command(alone, name) == {'command': name, 'error': not_serving}, name
    assert command(alone, 'zabstate') == {'voting': False, 'zabstate': '', 'command': 'zabstate', 'error': None}
    monitor = command(alone, 'mntr')
    assert monitor['error'] is None and monitor['peer_state'] == 'looking'
    assert command(alone, 'envi')['error'] is None
