/*
 * keys.h - `kassa key create|roll|revoke|list`: a merchant's API keys from the
 * command line (the operator's: it has the database, so it asks for no
 * password), each change an audit row by "cli". The work is the gateway's
 * (gateway/keys.h).
 */
#ifndef KASSA_CLI_KEYS_H
#define KASSA_CLI_KEYS_H

int cli_key(int argc, char **argv); /* argv[0] = "key" */

#endif
