#!/usr/bin/env bash
# Writes the kassa(1) man page to stdout, generated from the binary's own help: the usage of
# `kassa --help`, each command's `kassa CMD --help`, and the configuration table that
# `kassa serve --help` prints (main.c's KEYS: the same table that validates the configuration).
# Nothing here is written by hand twice: a new key or command appears in the page on the next build.
#   scripts/manpage.sh build/kassa > build/kassa.1
set -euo pipefail
bin=${1:?usage: manpage.sh KASSA_BINARY}

# groff: backslashes doubled, minus signs escaped, a leading dot or quote protected.
esc() { sed -e 's/\\/\\\\/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

version=$("$bin" version | awk '{print $2}')
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
date=$(date -u -d "@$epoch" +%Y-%m-%d)
usage=$("$bin" --help)
summary=$(printf '%s\n' "$usage" | head -n1 | sed -e 's/^kassa [^ ]* - //')

printf '.TH KASSA 1 "%s" "kassa %s" "User Commands"\n' "$date" "$version"
printf '.SH NAME\nkassa \\- %s\n' "$(printf '%s' "$summary" | esc)"
printf '.SH SYNOPSIS\n.nf\n'
printf '%s\n' "$usage" | sed -n '/^Usage:/,$p' | sed -n 's/^  \(kassa \|  \)/\1/p' | esc
printf '.fi\n'
cat <<'TXT'
.SH DESCRIPTION
Kassa is a self\-hosted payment gateway for Klarna and Alipay+ with a Stripe\-compatible and an
ECommPay\-compatible merchant API, hosted payment pages, durable signed webhooks and local
provider simulators. It runs as one binary on an SQLite file or on PostgreSQL.
.SH COMMANDS
TXT
# Each command's own help text, in the order of the usage.
for cmd in $(printf '%s\n' "$usage" | sed -n 's/^  kassa \([a-z][a-z]*\).*/\1/p' | awk '!seen[$0]++'); do
  [ "$cmd" = COMMAND ] && continue
  printf '.TP\n.B %s\n' "$cmd"
  if [ "$cmd" = serve ] || [ "$cmd" = version ]; then
    case $cmd in
      serve) echo 'Runs the gateway: the API, the hosted pages and, unless sim_listen is off, the simulators. Every key of CONFIGURATION applies.' ;;
      version) echo 'Prints the version.' ;;
    esac | esc
    continue
  fi
  printf '.nf\n'
  "$bin" "$cmd" --help 2>&1 | esc
  printf '.fi\n'
done
printf '.SH CONFIGURATION\n'
printf 'Each key is set as \\fIkey = value\\fR in the file given with \\fB\\-\\-config\\fR, as the environment variable \\fBKASSA_\\fIKEY\\fR, or as \\fB\\-\\-key\\fR \\fIvalue\\fR (dashes or underscores); later ones win in that order.\n'
"$bin" serve --help | sed -n '/^Configuration/,$p' | sed -n 's/^  \([a-z_0-9]*\)  *\(.*\)$/\1\t\2/p' |
  while IFS=$'\t' read -r key text; do
    printf '.TP\n.B %s\n%s\n' "$(printf '%s' "$key" | esc)" "$(printf '%s' "$text" | esc)"
  done
cat <<'TXT'
.SH SIGNALS
.TP
.B SIGTERM, SIGINT
Stop accepting connections, finish the requests in flight, then exit 0.
.TP
.B SIGHUP
Read the configuration again: log_level changes at once; other changed keys are logged as
needing a restart; a configuration that does not parse is refused and the running one kept.
.SH FILES
.TP
.I /etc/kassa/kassa.conf
The configuration of the Debian package's service.
.TP
.I /var/lib/kassa
The database (kassa.db) and its lock file (kassa.db.lock, held by a running serve).
.SH SEE ALSO
The documentation in /usr/share/doc/kassa and docs/ of the source: api.md, ecommpay.md,
operations.md (backups, the Debian package, metrics and alerts).
TXT
