/*
 * listen.h - the shop developer's commands: `kassa listen` forwards a Kassa's
 * events to a local URL, signed (listen.c); `kassa trigger EVENT` makes Kassa
 * emit an event in test mode by creating the objects and walking the provider
 * simulator's pages over HTTP as a customer would (trigger.c).
 */
#ifndef KASSA_CLI_LISTEN_H
#define KASSA_CLI_LISTEN_H

/* argv[0] is the command name; each returns the exit code (2: bad input or a
 * refused key, nothing done; 1: failed on the way). */
int cli_listen(int argc, char **argv);
int cli_trigger(int argc, char **argv);

#endif
