/*
 * Differential-test driver: runs Debian's libwrap hosts_access() on cases
 * read from stdin and prints what the library decided and did.
 *
 * One case per line, tab-separated ("-" = absent):
 *   allow deny daemon client_addr client_port client_name
 *   server_addr server_port server_name user
 * Each case runs in a forked child, set up like tcpd in production (socket
 * addresses known, names and user looked up lazily), except that the host
 * name and RFC 931 lookups answer from the case instead of DNS/identd, and
 * commands (spawn, twist, aclexec) are reported instead of run. With
 * REAL_NAMES set in the environment, host names are the library's own
 * sock_hostname() lookups through the system resolver instead.
 * Output per case: "pid N", event lines, then "end".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <tcpd.h>
#include <unistd.h>

int allow_severity = LOG_INFO;
int deny_severity = LOG_WARNING;

#define OUT 100 /* the driver's stdout, safe from twist's dup2 */
#define NFIELDS 10

static char *client_name, *server_name, *user_name;
static struct request_info *current;
static int real_names; /* REAL_NAMES, read before a case clears the environment */
/* The driver's own ids: an option that changes them is reported. */
static uid_t start_uid;
static gid_t start_gid;

static void say(const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    if (write(OUT, buf, n) < 0)
        _exit(3);
}

/* Host name lookup: the name the case gives, or none ("unknown"). */
static void case_hostname(struct host_info *host)
{
    int client = host == current->client;
    char *name = client ? client_name : server_name;
    say("lookup %s\n", client ? "client" : "server");
    if (name)
        snprintf(host->name, sizeof(host->name), "%s", name);
}

/* Host name lookup as the library does it in production. */
static void real_hostname(struct host_info *host)
{
    say("lookup %s\n", host == current->client ? "client" : "server");
    sock_hostname(host);
}

/* Interposes the library's RFC 931 (ident) lookup. */
void rfc931(struct sockaddr_in *client, struct sockaddr_in *server, char *dest)
{
    (void)client;
    (void)server;
    say("lookup user\n");
    snprintf(dest, STRING_LENGTH, "%s", user_name ? user_name : "unknown");
}

/* Interposes execl: report the shell command instead of running it.
 * A command containing "fail" exits 1 (for aclexec). */
int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    const char *dash_c = va_arg(ap, const char *);
    const char *cmd = va_arg(ap, const char *);
    va_end(ap);
    (void)path;
    (void)dash_c;
    say("exec %s\n", cmd);
    _exit(strstr(cmd, "fail") ? 1 : 0);
}

/* Interposes syslog so the library's warnings become visible. */
static void log_line(int pri, const char *fmt, va_list ap)
{
    char fmt2[1024], buf[4096];
    const char *error = strerror(errno);
    char *d = fmt2;
    for (const char *s = fmt; *s && d < fmt2 + sizeof(fmt2) - 128;) {
        if (s[0] == '%' && s[1] == 'm') { /* %m as syslog(3) expands it */
            d += snprintf(d, 128, "%s", error);
            s += 2;
        } else {
            *d++ = *s++;
        }
    }
    *d = 0;
    vsnprintf(buf, sizeof(buf), fmt2, ap);
    say("syslog %d %s\n", pri, buf);
}

void syslog(int pri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(pri, fmt, ap);
    va_end(ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;
    (void)flag;
    va_start(ap, fmt);
    log_line(pri, fmt, ap);
    va_end(ap);
}

void vsyslog(int pri, const char *fmt, va_list ap)
{
    log_line(pri, fmt, ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    log_line(pri, fmt, ap);
}

static char *field(char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static socklen_t make_addr(struct sockaddr_storage *ss, const char *addr, int port)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof(*v6);
    }
    fprintf(stderr, "driver: bad address %s\n", addr);
    exit(2);
}

static void run_case(char **f)
{
    struct sockaddr_storage client, server;
    struct request_info request;
    int pair[2];

    say("pid %d\n", (int)getpid());
    hosts_allow_table = f[0];
    hosts_deny_table = f[1];
    client_name = field(f[5]);
    server_name = field(f[8]);
    user_name = field(f[9]);
    make_addr(&client, f[3], atoi(f[4]));
    make_addr(&server, f[6], atoi(f[7]));
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
        _exit(2);
    clearenv();
    umask(022);

    request_init(&request, RQ_DAEMON, f[2], RQ_FILE, pair[0],
                 RQ_CLIENT_SIN, &client, RQ_SERVER_SIN, &server, 0);
    request.hostaddr = sock_hostaddr;
    request.hostname = real_names ? real_hostname : case_hostname;
    current = &request;

    int granted = hosts_access(&request);

    /* Observable effects of the options. */
    extern char **environ;
    for (char **e = environ; e && *e; e++)
        say("env %s\n", *e);
    mode_t mask = umask(0);
    if (mask != 022)
        say("umask %03o\n", mask);
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    if (prio != 0)
        say("nice %d\n", prio);
    if (allow_severity != LOG_INFO || deny_severity != LOG_WARNING)
        say("severity %d %d\n", allow_severity, deny_severity);
    if (rfc931_timeout != 10)
        say("rfc931_timeout %d\n", rfc931_timeout);
    int on = 0;
    socklen_t len = sizeof(on);
    if (getsockopt(pair[0], SOL_SOCKET, SO_KEEPALIVE, &on, &len) == 0 && on)
        say("keepalive\n");
    struct linger lg;
    len = sizeof(lg);
    if (getsockopt(pair[0], SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff)
        say("linger %d\n", lg.l_linger);
    if (getuid() != start_uid || getgid() != start_gid)
        say("uid %d gid %d\n", (int)getuid(), (int)getgid());
    close(pair[0]);
    char buf[65536];
    ssize_t n;
    while ((n = read(pair[1], buf, sizeof(buf))) > 0) {
        say("banner ");
        for (ssize_t i = 0; i < n; i++) {
            unsigned char c = buf[i];
            if (c == '\\')
                say("\\\\");
            else if (c < 32 || c > 126)
                say("\\x%02x", c);
            else
                say("%c", c);
        }
        say("\n");
    }
    say("access %s\n", granted ? "granted" : "denied");
}

int main(void)
{
    char line[65536];

    if (dup2(1, OUT) != OUT)
        return 2;
    real_names = getenv("REAL_NAMES") != NULL;
    start_uid = getuid();
    start_gid = getgid();
    while (fgets(line, sizeof(line), stdin)) {
        char *f[NFIELDS];
        char *p = line;
        line[strcspn(line, "\n")] = 0;
        for (int i = 0; i < NFIELDS; i++) {
            f[i] = strsep(&p, "\t");
            if (!f[i]) {
                fprintf(stderr, "driver: need %d fields\n", NFIELDS);
                return 2;
            }
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            run_case(f);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            say("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        say("end\n");
    }
    return 0;
}
