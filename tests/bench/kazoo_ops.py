"""kazoo's gets or sets per second on one session with N requests in flight (get_async /
set_async), for the PaddockClient table in the README:
    python3 tests/bench/kazoo_ops.py 127.0.0.1:2181 get 100 5
Not a test (pytest does not collect it)."""
import sys, time
from kazoo.client import KazooClient
host, op, inflight, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = KazooClient(hosts=host, timeout=10); c.start()
path = '/paddock-bench-client'
value = b'a' * 1024
c.ensure_path(path); c.set(path, value)
def one():
    return c.get_async(path) if op == 'get' else c.set_async(path, value)
end = time.monotonic() + 1
while time.monotonic() < end: one().get()
count = 0
start = time.monotonic(); end = start + seconds
pending = [one() for _ in range(inflight)]
while time.monotonic() < end:
    r = pending.pop(0); r.get(); count += 1; pending.append(one())
for r in pending: r.get()
print('kazoo %s x%d: %d ops/s' % (op, inflight, count / seconds))
c.stop(); c.close()
