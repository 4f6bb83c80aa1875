/* The Apache ZooKeeper 3.8 C client's (libzookeeper_mt) gets or sets per second on one session
 * with N requests in flight (zoo_aget / zoo_aset, each completion sending the next), for the
 * PaddockClient table in the README:
 *     tests/bench/c_client_ops.sh 127.0.0.1:2181 get 100 5
 * One second of warm-up at 1 in flight, then SECONDS measured, like kazoo_ops.py. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static const char *path = "/paddock-bench-client";
static char value[1024];
static int is_get;
static atomic_long completed;
static atomic_long issued;
static atomic_long answered;
static atomic_long failures;
static atomic_int running = 1;
static atomic_int connected;
static zhandle_t *zh;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void watcher(zhandle_t *h, int type, int state, const char *p, void *ctx) {
    (void)h; (void)p; (void)ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) atomic_store(&connected, 1);
}

static void issue(void);

static void on_data(int rc, const char *v, int len, const struct Stat *s, const void *d) {
    (void)v; (void)len; (void)s; (void)d;
    if (rc != ZOK) atomic_fetch_add(&failures, 1);
    atomic_fetch_add(&completed, 1);
    atomic_fetch_add(&answered, 1);
    if (atomic_load(&running)) issue();
}

static void on_stat(int rc, const struct Stat *s, const void *d) {
    (void)s; (void)d;
    if (rc != ZOK) atomic_fetch_add(&failures, 1);
    atomic_fetch_add(&completed, 1);
    atomic_fetch_add(&answered, 1);
    if (atomic_load(&running)) issue();
}

static void issue(void) {
    atomic_fetch_add(&issued, 1);
    int rc = is_get ? zoo_aget(zh, path, 0, on_data, NULL) : zoo_aset(zh, path, value, sizeof value, -1, on_stat, NULL);
    if (rc != ZOK) atomic_fetch_add(&failures, 1);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST:PORT get|set INFLIGHT SECONDS\n", argv[0]);
        return 2;
    }
    is_get = strcmp(argv[2], "get") == 0;
    int inflight = atoi(argv[3]);
    double seconds = atof(argv[4]);
    memset(value, 'a', sizeof value);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zh = zookeeper_init(argv[1], watcher, 10000, 0, 0, 0);
    if (!zh) { perror("zookeeper_init"); return 1; }
    for (double deadline = now() + 30; !atomic_load(&connected); usleep(1000))
        if (now() > deadline) { fprintf(stderr, "not connected within 30 s\n"); return 1; }
    int rc = zoo_create(zh, path, value, sizeof value, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) { fprintf(stderr, "create: %s\n", zerror(rc)); return 1; }
    /* Warm-up: one request at a time for a second. */
    for (double end = now() + 1; now() < end;) {
        char buffer[2048];
        int length = sizeof buffer;
        rc = is_get ? zoo_get(zh, path, 0, buffer, &length, NULL) : zoo_set(zh, path, value, sizeof value, -1);
        if (rc != ZOK) { fprintf(stderr, "warm-up: %s\n", zerror(rc)); return 1; }
    }
    atomic_store(&completed, 0);
    double start = now();
    for (int i = 0; i < inflight; i++) issue();
    while (now() < start + seconds) usleep(1000);
    long count = atomic_load(&completed);
    atomic_store(&running, 0);
    /* Drain what is in flight (bounded). */
    for (double deadline = now() + 10; now() < deadline && atomic_load(&answered) < atomic_load(&issued); usleep(1000)) {}
    zookeeper_close(zh);
    if (atomic_load(&failures) > 0) { fprintf(stderr, "%ld requests failed\n", atomic_load(&failures)); return 1; }
    printf("C client %s x%d: %ld ops/s\n", argv[2], inflight, (long)(count / seconds));
    return 0;
}
