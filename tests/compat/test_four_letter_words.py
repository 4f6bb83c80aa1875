"""Four-letter words: the shape of each answer (keys/lines present), not values.

Apache 3.8 sends the answer and closes the connection; every answer ends
with a newline except ruok ("imok") and isro ("rw"/"ro").
"""

import re

import pytest

from servers import target
from rawzk import Flags, wait_until
from servers import SERVING_MODES, Server

SRVR_LINES = [
    r"Zookeeper version: \S.*",
    r"Latency min/avg/max: \d+/[\d.]+/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: (%s)" % "|".join(SERVING_MODES),
    r"Node count: \d+",
]

MNTR_KEYS = [
    "zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
    "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
    "zk_outstanding_requests", "zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
    "zk_approximate_data_size", "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count", "zk_global_sessions", "zk_uptime",
]

CONNECTION_LINE = re.compile(
    r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+(,.*)?\)$")


def lines(text):
    # A leader's srvr has one more line, about proposal sizes (ZooKeeper's too).
    return [l for l in text.rstrip("\n").split("\n") if not l.startswith("Proposal sizes last/min/max: ")]


def test_ruok(server):
    assert server.four_letter("ruok") == "imok"


def test_isro(server):
    assert server.four_letter("isro") == "rw"


def test_srvr(server):
    text = server.four_letter("srvr")
    assert text.endswith("\n")
    got = lines(text)
    assert len(got) == len(SRVR_LINES), text
    for pattern, line in zip(SRVR_LINES, got):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern!r}"


def test_srvr_zxid_and_node_count_follow_writes(server, raw, base):
    def field(name):
        return next(l.split(": ", 1)[1] for l in lines(server.four_letter("srvr"))
                    if l.startswith(name + ": "))

    zxid_before, count_before = int(field("Zxid"), 16), int(field("Node count"))
    raw.create(base + "/counted")
    assert int(field("Zxid"), 16) > zxid_before
    assert int(field("Node count")) == count_before + 1


def test_stat(server, raw):
    text = server.four_letter("stat")
    got = lines(text)
    assert re.fullmatch(SRVR_LINES[0], got[0])
    assert got[1] == "Clients:"
    blank = got.index("")
    clients = got[2:blank]
    assert clients, "stat lists no client connections"
    for line in clients:
        assert CONNECTION_LINE.match(line), line
    for pattern, line in zip(SRVR_LINES[1:], got[blank + 1:]):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern!r}"


def test_mntr(server, raw, base):
    text = server.four_letter("mntr")
    assert text.endswith("\n")
    values = {}
    for line in lines(text):
        key, sep, value = line.partition("\t")
        assert sep == "\t" and key.startswith("zk_"), f"bad mntr line {line!r}"
        values[key] = value
    missing = [k for k in MNTR_KEYS if k not in values]
    assert not missing, f"mntr lacks {missing}"
    assert values["zk_server_state"] in SERVING_MODES
    for key in ("zk_znode_count", "zk_num_alive_connections", "zk_packets_received",
                "zk_ephemerals_count", "zk_outstanding_requests"):
        assert values[key].isdigit(), f"{key}={values[key]!r}"
    assert float(values["zk_avg_latency"]) >= 0

    def count(key):
        return int(dict(l.split("\t", 1) for l in lines(server.four_letter("mntr")))[key])

    znodes, ephemerals = count("zk_znode_count"), count("zk_ephemerals_count")
    raw.create(base + "/eph", b"", flags=Flags.EPHEMERAL)
    assert count("zk_znode_count") == znodes + 1
    assert count("zk_ephemerals_count") == ephemerals + 1


def test_conf(server):
    text = server.four_letter("conf")
    conf = dict(line.split("=", 1) for line in lines(text))
    assert conf["clientPort"] == str(server.port)
    assert conf["tickTime"] == "2000"
    assert conf["minSessionTimeout"] == "4000"
    assert conf["maxSessionTimeout"] == "40000"
    assert conf["maxClientCnxns"].isdigit()
    assert conf["dataDir"].startswith(server.data_dir)
    assert "dataLogDir" in conf and "serverId" in conf


def test_cons(server, raw):
    text = server.four_letter("cons")
    assert text.endswith("\n\n")
    got = [l for l in lines(text) if l]
    for line in got:
        assert CONNECTION_LINE.match(line), line
    mine = [l for l in got if f"sid={hex(raw.session_id)}," in l]
    assert len(mine) == 1, f"no cons line for session {hex(raw.session_id)}:\n{text}"
    for key in ("lop=", "est=", "to=10000", "lzxid=0x", "lresp=", "llat=", "minlat=",
                "avglat=", "maxlat="):
        assert key in mine[0], f"{key} missing in {mine[0]!r}"


def test_envi(server):
    got = lines(server.four_letter("envi"))
    assert got[0] == "Environment:"
    env = dict(line.split("=", 1) for line in got[1:])
    for key in ("zookeeper.version", "host.name", "os.name", "os.arch", "user.name",
                "user.dir"):
        assert key in env, f"envi lacks {key}"


def test_envi_java_properties(server):
    """java.version is a line every client parser of envi may look for: Paddock prints it (with
    "n/a"); the other java.* system properties exist only in a JVM server."""
    env = dict(l.split("=", 1) for l in lines(server.four_letter("envi"))[1:])
    assert "java.version" in env
    if target() == "apache":
        for key in ("java.vendor", "java.home", "java.class.path"):
            assert key in env
    else:
        assert env["java.version"].startswith("n/a")


def test_dump(server, raw, base):
    raw.create(base + "/dumped", b"", flags=Flags.EPHEMERAL)
    text = server.four_letter("dump")
    assert text.startswith("SessionTracker dump:\n")
    assert "ephemeral nodes dump:\n" in text
    sid = hex(raw.session_id)
    # A follower lists its clients' sessions as LearnerSessionTracker does ("0x..\t<timeout>ms").
    assert f"\t{sid}\n" in text or f"\n{sid}\t" in text, "session not listed in the session tracker dump"
    ephemerals = text.split("ephemeral nodes dump:\n", 1)[1]
    assert f"{sid}:\n\t{base}/dumped\n" in ephemerals


def test_watch_words(server, make_raw, base):
    raw = make_raw()
    raw.create(base + "/w")
    raw.get(base + "/w", watch=True)
    sid = hex(raw.session_id)

    wchs = lines(server.four_letter("wchs"))
    assert re.fullmatch(r"\d+ connections watching \d+ paths", wchs[0]), wchs
    assert re.fullmatch(r"Total watches:\d+", wchs[1]), wchs
    assert int(wchs[1].split(":")[1]) >= 1

    wchc = server.four_letter("wchc")
    assert f"{sid}\n\t{base}/w\n" in wchc, wchc

    wchp = server.four_letter("wchp")
    assert f"{base}/w\n\t{sid}\n" in wchp, wchp

    raw.close()
    # the server drops the watches when it closes the connection, just after
    # the closeSession reply
    wait_until(lambda: sid not in server.four_letter("wchc"), 10,
               "watches of a closed session to disappear from wchc")


def test_dirs(server):
    got = lines(server.four_letter("dirs"))
    assert re.fullmatch(r"datadir_size: \d+", got[0]), got
    assert re.fullmatch(r"logdir_size: \d+", got[1]), got


def test_crst(server, raw):
    assert server.four_letter("crst") == "Connection stats reset.\n"
    mine = [l for l in lines(server.four_letter("cons")) if f"sid={hex(raw.session_id)}," in l]
    assert mine and "recved=0," in mine[0], mine


def test_srst(server):
    assert server.four_letter("srst") == "Server stats reset.\n"
    got = lines(server.four_letter("srvr"))
    assert got[1] == "Latency min/avg/max: 0/0.0/0", got


def test_unknown_word_closes_without_answer(server):
    assert server.four_letter("xxxx") == ""


def test_four_letter_word_after_session_traffic_is_not_a_command(server, raw):
    """Words are only recognised as the first 4 bytes of a fresh connection;
    later, b"ruok" is a frame length of 0x72756f6b > jute.maxbuffer: closed."""
    raw.ping()
    raw.send_bytes(b"ruok")
    assert raw.is_closed_by_server(10.0)
    assert b"imok" not in raw.buf


# -- a second server with a restricted whitelist -------------------------------------------

@pytest.fixture(scope="module")
def restricted():
    srv = Server(name="restricted", four_letter_whitelist="srvr,ruok")
    srv.start()
    yield srv
    srv.stop()


def test_restricted_whitelist_allows_listed(restricted):
    assert restricted.four_letter("ruok") == "imok"
    assert any("Mode: %s" % mode in restricted.four_letter("srvr") for mode in SERVING_MODES)


@pytest.mark.parametrize("word", ["stat", "mntr", "conf", "cons", "envi", "dump", "wchs",
                                  "isro", "crst", "srst", "dirs"])
def test_restricted_whitelist_refuses_others(restricted, word):
    assert restricted.four_letter(word) == f"{word} is not executed because it is not in the whitelist.\n"
