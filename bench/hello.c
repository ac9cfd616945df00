/* The tiny program of the fork+exec workload: one line on the socket, exit.
 * Built with -static so that exec costs no dynamic loading. */
#include <unistd.h>

int main(void)
{
    static const char msg[] = "hello from inetd bench\r\n";
    (void)!write(1, msg, sizeof msg - 1);
    _exit(0);
}
