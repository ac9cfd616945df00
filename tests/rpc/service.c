/* A Sun RPC service for the tests, started by inetd on the socket of an
 * rpc/udp or rpc/tcp line (fd 0), and its client.
 *
 *   service             serve program PROGRAM, versions 1 and 2, on fd 0
 *                       (procedure 1 answers the server's pid), until idle
 *                       for 5 s
 *   service call HOST VERSION NETID
 *                       ask rpcbind on HOST where the program is on NETID
 *                       (udp, tcp, udp6, tcp6), call procedure 1 there,
 *                       print "version V pid P"
 *
 * Built with the system's RPC library (libtirpc): it registers nothing
 * itself (protocol 0); inetd registered the socket with rpcbind. */
#include <netconfig.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROGRAM 536871065u /* 0x20000099, in the range for local use */
#define IDLE 5

static void idle(int sig)
{
    (void)sig;
    _exit(0);
}

static void dispatch(struct svc_req *request, SVCXPRT *transport)
{
    unsigned int pid = (unsigned int)getpid();
    alarm(IDLE);
    switch (request->rq_proc) {
    case NULLPROC:
        svc_sendreply(transport, (xdrproc_t)xdr_void, NULL);
        break;
    case 1:
        svc_sendreply(transport, (xdrproc_t)xdr_u_int, (char *)&pid);
        break;
    default:
        svcerr_noproc(transport);
    }
}

static int call(const char *host, const char *version, const char *netid)
{
    unsigned long vers = strtoul(version, NULL, 10);
    struct netconfig *transport = getnetconfigent(netid);
    if (transport == NULL) {
        fprintf(stderr, "no transport %s in /etc/netconfig\n", netid);
        return 1;
    }
    CLIENT *client = clnt_tp_create(host, PROGRAM, vers, transport);
    if (client == NULL) {
        clnt_pcreateerror("clnt_tp_create");
        return 1;
    }
    struct timeval timeout = {5, 0};
    unsigned int pid = 0;
    enum clnt_stat status = clnt_call(client, 1, (xdrproc_t)xdr_void, NULL,
                                      (xdrproc_t)xdr_u_int, (char *)&pid, timeout);
    if (status != RPC_SUCCESS) {
        clnt_perror(client, "clnt_call");
        return 1;
    }
    printf("version %lu pid %u\n", vers, pid);
    clnt_destroy(client);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "call") == 0)
        return call(argv[2], argv[3], argv[4]);
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        perror("fd 0 is not a socket");
        return 1;
    }
    SVCXPRT *transport = type == SOCK_DGRAM ? svcudp_create(0) : svctcp_create(0, 0, 0);
    if (transport == NULL) {
        fprintf(stderr, "cannot serve fd 0\n");
        return 1;
    }
    for (unsigned long version = 1; version <= 2; version++)
        if (!svc_register(transport, PROGRAM, version, dispatch, 0)) {
            fprintf(stderr, "svc_register failed\n");
            return 1;
        }
    signal(SIGALRM, idle);
    alarm(IDLE);
    svc_run();
    return 1;
}
