#!/usr/bin/env bash
# bench/rollup_cost.sh - what the analytics rollup's triggers (migration 6) cost the writes
# that fire them, on SQLite: one payment's life (stored, its `create` journal row, its method
# chosen, a succeeded sale row, its status updated) for N payments in one transaction, into a
# fresh database with the triggers and into a copy without them; prints the user CPU of each
# step per payment in microseconds. Payment bodies are 1.5 kB of JSON (a real one is 1-2 kB).
#   bash bench/rollup_cost.sh            N = 50,000, two rounds
#   BENCH_KASSA=build/kassa BENCH_N=20000 bash bench/rollup_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-50000}
KASSA=${BENCH_KASSA:-build/kassa}
[ -x "$KASSA" ] || make -j2 build/kassa >&2
WORK=$(mktemp -d /tmp/kassa-rollup-cost.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$KASSA" merchant create --name rollup-cost --db "$WORK/with.db" >/dev/null 2>&1
cp "$WORK/with.db" "$WORK/without.db"
sqlite3 "$WORK/without.db" "DROP TRIGGER ledger_rollup_op_ins; DROP TRIGGER ledger_rollup_op_upd;
    DROP TRIGGER ledger_rollup_pay_ins; DROP TRIGGER ledger_rollup_pay_upd;"
G="WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $N)"
cat >"$WORK/w.sql" <<SQL
.timer on
BEGIN;
$G INSERT INTO objects(merchant_id, id, kind, status, currency, amount, created, version, body)
  SELECT 'acct_y', 'pi_y_' || i, 'payment_intent', 'requires_payment_method', 'eur', 2500, 1, 1,
  '{"id":"pi_y","description":"' || printf('%.1500c', 'd') || '"}' FROM g;
$G INSERT INTO operations(merchant_id, id, payment_id, kind, amount, status, created_ms)
  SELECT 'acct_y', 'op_yc_' || i, 'pi_y_' || i, 'create', 2500, 'succeeded', 1796000000000 + i FROM g;
UPDATE objects SET body = json_set(body, '\$.method_type', 'klarna'), version = version + 1
  WHERE merchant_id = 'acct_y';
$G INSERT INTO operations(merchant_id, id, payment_id, kind, amount, status, created_ms)
  SELECT 'acct_y', 'op_ys_' || i, 'pi_y_' || i, 'sale', 2500, 'succeeded', 1796000000000 + i * 1000 FROM g;
UPDATE objects SET status = 'succeeded', body = json_set(body, '\$.status', 'succeeded'),
  version = version + 1 WHERE merchant_id = 'acct_y';
COMMIT;
SQL
for round in 1 2; do
    for db in without with; do
        cp "$WORK/$db.db" "$WORK/run.db"
        sqlite3 "$WORK/run.db" <"$WORK/w.sql" | awk -v n="$N" -v db="$db" -v r="$round" '
            /^Run Time/ { us[k++] = $6 * 1e6 / n }
            END { printf "round %s %-7s payment stored %.1f us, create row %.1f us, method chosen %.1f us, sale row %.1f us, status updated %.1f us\n", r, db, us[1], us[2], us[3], us[4], us[5] }'
        rm -f "$WORK/run.db"*
    done
done
