/*
 * nodelogs-driver: `vzexec logs` without vzexec, for t0800-logs.sh:
 * `nodelogs-driver logs ARGS...` is nodelogs_main(argc, argv), so the shell
 * test drives the real verb code (built with the normal CC) until the verb
 * is wired into the static vzexec.
 */
#include "nodelogs.h"

int
main(int argc, char **argv)
{
	return nodelogs_main(argc, argv);
}
