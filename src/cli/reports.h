/*
 * cli_reports.h - `kassa export` and `kassa report schedule ...` (cli_reports.c).
 * argv starts after the command word; the return value is the exit status.
 */
#ifndef KASSA_CLI_REPORTS_H
#define KASSA_CLI_REPORTS_H

int cli_export(int argc, char **argv);
int cli_report(int argc, char **argv);

#endif
