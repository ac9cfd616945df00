/* refserver: the minimal super-server the benchmark uses as the reference for
 * what the kernel allows. One poll(2) loop; accept4; posix_spawn (vfork-style
 * clone in glibc) with dup2 of the connection onto fds 0-2, then execve;
 * SIGCHLD reaping. Builtins are served inline, with no fork, by the same loop
 * (echo, discard, chargen, daytime, time on TCP; echo, discard, daytime, time
 * on UDP), so the builtin workloads have a reference too.
 *
 *   refserver [-a ADDR] [-q BACKLOG] SPEC...
 *     SPEC = tcp:PORT:BUILTIN | udp:PORT:BUILTIN | tcp:PORT:/path/prog[:argv0[:arg...]]
 *
 * No rate limits, no access control, no configuration reload (SIGHUP is
 * ignored), no per-service users: it stands for the floor under the daemons.
 *
 * Built with -DRAW_VFORK it is vforkserver, the second reference: the spawn is
 * vfork(), dup2 onto 0-2 and execve() called directly (as busybox inetd does),
 * on a connection accepted blocking, so the child makes four system calls and
 * the parent one (close) beyond accept4. Nothing else: no new session, no
 * signal reset, no mask, which a daemon owes its services; the physical
 * limit of a fork+exec super-server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum kind { ECHO, DISCARD, CHARGEN, DAYTIME, TIME, EXEC };
static const char *names[] = { "echo", "discard", "chargen", "daytime", "time" };

struct svc { int fd, udp; enum kind kind; char **argv; };
struct conn { int fd; enum kind kind; int pos; };   /* an inline TCP builtin */

#define MAXSVC 1024
static struct svc svcs[MAXSVC];
static int nsvc;
static struct conn *conns;
static int nconn, capconn;
static struct pollfd *pfds;

static char ring[95 + 74];   /* chargen: 95 printable characters, doubled enough for any line */

static void die(const char *what) { perror(what); exit(1); }

static void on_chld(int sig)
{
    (void)sig;
    int e = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    errno = e;
}

static size_t daytime(char *buf, size_t n)
{
    time_t t = time(NULL);
    char tmp[32];
    ctime_r(&t, tmp);
    return (size_t)snprintf(buf, n, "%.24s\r\n", tmp);
}

static uint32_t rfc868(void) { return htonl((uint32_t)(time(NULL) + 2208988800UL)); }

static void add_conn(int fd, enum kind k)
{
    if (nconn == capconn) {
        capconn = capconn ? capconn * 2 : 1024;
        conns = realloc(conns, capconn * sizeof *conns);
        if (!conns) die("realloc");
    }
    conns[nconn++] = (struct conn){ fd, k, 0 };
}

static void drop_conn(int i)
{
    close(conns[i].fd);
    conns[i] = conns[--nconn];
}

/* Returns 0 when there was nothing to accept. */
static int serve_tcp(struct svc *s)
{
#ifdef RAW_VFORK
    /* Accepted blocking: the child needs no fcntl. */
    int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | (s->kind == EXEC ? 0 : SOCK_NONBLOCK));
#else
    int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
#endif
    if (c < 0) return 0;
    switch (s->kind) {
    case EXEC: {
#ifdef RAW_VFORK
        pid_t pid = vfork();
        if (pid == 0) {
            dup2(c, 0);
            dup2(c, 1);
            dup2(c, 2);
            execve(s->argv[0], s->argv + 1, environ);
            _exit(127);
        }
        if (pid < 0) perror("refserver: vfork");
        close(c);
        return 1;
#else
        /* Blocking I/O for the child. */
        fcntl(c, F_SETFL, 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, c, 0);
        posix_spawn_file_actions_adddup2(&fa, c, 1);
        posix_spawn_file_actions_adddup2(&fa, c, 2);
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&at, &none);
        sigset_t def;
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE);
        sigaddset(&def, SIGCHLD);
        sigaddset(&def, SIGHUP);
        posix_spawnattr_setsigdefault(&at, &def);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        pid_t pid;
        int e = posix_spawn(&pid, s->argv[0], &fa, &at, s->argv + 1, environ);
        if (e) fprintf(stderr, "refserver: spawn %s: %s\n", s->argv[0], strerror(e));
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(c);
        return 1;
#endif
    }
    case DAYTIME: {
        char b[64];
        (void)!write(c, b, daytime(b, sizeof b));
        close(c);
        return 1;
    }
    case TIME: {
        uint32_t t = rfc868();
        (void)!write(c, &t, 4);
        close(c);
        return 1;
    }
    default:
        add_conn(c, s->kind);
    }
    return 1;
}

static void serve_udp(struct svc *s)
{
    char b[65536];
    struct sockaddr_storage ss;
    for (int n = 0; n < 64; n++) {
        socklen_t sl = sizeof ss;
        ssize_t r = recvfrom(s->fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (r < 0) return;
        switch (s->kind) {
        case ECHO: sendto(s->fd, b, r, MSG_DONTWAIT, (struct sockaddr *)&ss, sl); break;
        case DAYTIME: sendto(s->fd, b, daytime(b, sizeof b), MSG_DONTWAIT, (struct sockaddr *)&ss, sl); break;
        case TIME: { uint32_t t = rfc868(); sendto(s->fd, &t, 4, MSG_DONTWAIT, (struct sockaddr *)&ss, sl); break; }
        case CHARGEN: { memcpy(b, ring, 72); b[72] = '\r'; b[73] = '\n';
            sendto(s->fd, b, 74, MSG_DONTWAIT, (struct sockaddr *)&ss, sl); break; }
        default: break;
        }
    }
}

/* Returns 0 when the connection is over. */
static int serve_conn(struct conn *c, short rev)
{
    char b[65536];
    if (c->kind == CHARGEN) {
        if (rev & (POLLERR | POLLHUP)) return 0;
        if (rev & POLLIN) {   /* input is discarded; EOF ends it */
            ssize_t r = read(c->fd, b, sizeof b);
            if (r == 0 || (r < 0 && errno != EAGAIN)) return 0;
        }
        if (!(rev & POLLOUT)) return 1;
        /* Fill a buffer of whole lines, starting where the last write stopped. */
        int len = 0, pos = c->pos;
        while (len + 74 <= (int)sizeof b) {
            memcpy(b + len, ring + pos % 95, 72);
            b[len + 72] = '\r';
            b[len + 73] = '\n';
            len += 74;
            pos++;
        }
        ssize_t w = write(c->fd, b, len);
        if (w < 0) return errno == EAGAIN;
        c->pos += w / 74;   /* lines partly written restart whole: fine for a reference */
        return 1;
    }
    ssize_t r = read(c->fd, b, sizeof b);
    if (r == 0 || (r < 0 && errno != EAGAIN)) return 0;
    if (r > 0 && c->kind == ECHO) {
        ssize_t off = 0;
        while (off < r) {
            ssize_t w = write(c->fd, b + off, r - off);
            if (w < 0) {
                if (errno != EAGAIN) return 0;
                struct pollfd p = { c->fd, POLLOUT, 0 };
                poll(&p, 1, 1000);
                continue;
            }
            off += w;
        }
    }
    return 1;
}

static int listen_on(const char *addr, int port, int udp, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sl = sizeof *sin6;
    } else {
        fprintf(stderr, "refserver: bad address %s\n", addr);
        exit(2);
    }
    int fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "refserver: bind %s:%d: %s\n", addr, port, strerror(errno));
        exit(1);
    }
    if (!udp && listen(fd, backlog) < 0) die("listen");
    return fd;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int backlog = 128, opt;
    while ((opt = getopt(argc, argv, "a:q:")) != -1) {
        if (opt == 'a') addr = optarg;
        else if (opt == 'q') backlog = atoi(optarg);
        else { fprintf(stderr, "usage: refserver [-a ADDR] [-q BACKLOG] SPEC...\n"); return 2; }
    }
    for (int i = 0; i < 95 + 74; i++) ring[i] = (char)(' ' + i % 95);

    for (int i = optind; i < argc; i++) {
        if (nsvc == MAXSVC) { fprintf(stderr, "refserver: too many services\n"); return 2; }
        char *spec = strdup(argv[i]);
        char *proto = strtok(spec, ":"), *port = strtok(NULL, ":"), *what = strtok(NULL, ":");
        if (!proto || !port || !what) { fprintf(stderr, "refserver: bad spec %s\n", argv[i]); return 2; }
        struct svc *s = &svcs[nsvc++];
        s->udp = !strcmp(proto, "udp");
        s->kind = EXEC;
        for (int k = 0; k < 5; k++) if (!strcmp(what, names[k])) s->kind = (enum kind)k;
        if (s->kind == EXEC) {
            if (s->udp || what[0] != '/') { fprintf(stderr, "refserver: bad spec %s\n", argv[i]); return 2; }
            /* argv[0] = path to exec; argv[1..] = the program's argv (argv0 defaults to the path). */
            s->argv = calloc(24, sizeof *s->argv);
            int n = 0;
            s->argv[n++] = what;
            char *a;
            while (n < 22 && (a = strtok(NULL, ":"))) s->argv[n++] = a;
            if (n == 1) s->argv[n++] = what;
        }
        s->fd = listen_on(addr, atoi(port), s->udp, backlog);
    }
    if (!nsvc) { fprintf(stderr, "refserver: no services\n"); return 2; }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    fprintf(stderr, "refserver: %d services on %s\n", nsvc, addr);

    for (;;) {
        int n = nsvc + nconn;
        pfds = realloc(pfds, (n ? n : 1) * sizeof *pfds);
        for (int i = 0; i < nsvc; i++) pfds[i] = (struct pollfd){ svcs[i].fd, POLLIN, 0 };
        for (int i = 0; i < nconn; i++)
            pfds[nsvc + i] = (struct pollfd){ conns[i].fd, conns[i].kind == CHARGEN ? POLLIN | POLLOUT : POLLIN, 0 };
        int r = poll(pfds, n, -1);
        if (r < 0) { if (errno == EINTR) continue; die("poll"); }
        /* Connections first (indices stay valid while we go backwards and drop). */
        for (int i = nconn - 1; i >= 0; i--) {
            short rev = pfds[nsvc + i].revents;
            if (rev && !serve_conn(&conns[i], rev)) drop_conn(i);
        }
        for (int i = 0; i < nsvc; i++) {
            if (!(pfds[i].revents & POLLIN)) continue;
            if (svcs[i].udp) serve_udp(&svcs[i]);
            else for (int k = 0; k < 16 && serve_tcp(&svcs[i]); k++) {}
        }
    }
}
