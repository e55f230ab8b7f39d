#!/usr/bin/env bash
# check-layers.sh - holds src/ to the layer picture of DESIGN.md, so CI enforces
# what review alone enforced before (`make check-layers`, run by `make lint`).
#
# 1. Includes point down. A file in folder A may include a header of folder B
#    only when A == B or A sits above B:
#        main > cli > server > api > gateway > domain > store | providers > base
#    (src/main.c is main; src/limits.h belongs to base; store and providers are
#    side by side and do not include each other.) One arrow is allowed upward
#    and named here: api handlers include server/http.h, the request, answer
#    and route-table types they are written against; the server reaches api
#    only through the route table main hands it, never by include.
#    sim (src/sim/) is apart: only main includes it, and it includes only base
#    and itself (the layers reach the simulators over HTTP).
#    And no circle between folders (api/stripe, api/checkout, ... may use each
#    other within their layer, never round in a circle; tsort finds loops).
# 2. No circle inside src/gateway/: the frame (gateway.c, codec.c, intent.c)
#    calls only the frame; a use case (payments.c, orders.c, ...) calls only the
#    frame and itself, never another use case; the workers (scheduler.c,
#    dispatch.c) drive use cases from above, and nothing in the gateway calls
#    or names a worker's function.
#
# Usage: scripts/check-layers.sh [SRC_DIR]   (default: src); exit 1 on a breach.
#        scripts/check-layers.sh --self-test  (the check must catch planted breaches)
set -euo pipefail

declare -A RANK=([main]=8 [cli]=7 [server]=6 [api]=5 [gateway]=4 [domain]=3 [store]=2 [providers]=2
    [base]=1 [sim]=0)

# The layer of a path relative to SRC (into LAYER): its first folder; main.c is
# main, limits.h base. No subshells: the loop below runs once per include.
layer_of() {
    case "$1" in
    main.c) LAYER=main ;;
    limits.h) LAYER=base ;;
    */*) LAYER=${1%%/*} ;;
    *) LAYER=unknown ;;
    esac
}

# "api/stripe/../../gateway/gateway.h" -> "gateway/gateway.h", in the shell (no
# process per include); a path that climbs out of src/ starts with "../".
normalize() { # into NORM
    local IFS=/ part out=()
    for part in $1; do
        case "$part" in
        '' | .) ;;
        ..) if [ ${#out[@]} -gt 0 ] && [ "${out[-1]}" != .. ]; then unset 'out[-1]'; else out+=(..); fi ;;
        *) out+=("$part") ;;
        esac
    done
    NORM="${out[*]}"
}

include_allowed() { # from_layer to_layer to_path
    local a=$1 b=$2 to=$3
    [ "$a" = "$b" ] && return 0
    if [ "$b" = sim ]; then [ "$a" = main ]; return; fi
    if [ "$a" = sim ]; then [ "$b" = base ]; return; fi
    [ "$a" = api ] && [ "$to" = server/http.h ] && return 0
    [ "${RANK[$a]}" -gt "${RANK[$b]}" ]
}

check_includes() {
    local src=$1 bad=0 f rel dir inc target from to a b edges=()
    while IFS= read -r f; do
        rel=${f#"$src"/}
        dir=${rel%/*}
        [ "$dir" = "$rel" ] && dir=.
        layer_of "$rel"
        a=$LAYER
        while IFS= read -r inc; do
            normalize "$dir/$inc"
            target=$NORM
            case "$target" in ../*) continue ;; esac # outside src/: not a layer
            layer_of "$target"
            b=$LAYER
            if [ -z "${RANK[$a]:-}" ] || [ -z "${RANK[$b]:-}" ]; then
                echo "check-layers: '$rel' or '$target' is in no layer of DESIGN.md" >&2
                bad=1
            elif ! include_allowed "$a" "$b" "$target"; then
                echo "check-layers: '$rel' ($a) includes '$target' ($b): an upward or sideways arrow" >&2
                bad=1
            fi
            # a folder is a node; main.c and limits.h stand for their layers
            to=${target%/*}
            [ "$to" = "$target" ] && to=$b
            from=$dir
            [ "$from" = . ] && from=$a
            [ "$to" != "$from" ] && edges+=("$from $to")
        done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f")
    done < <(find "$src" -name '*.[ch]' | sort)
    # Folders side by side in one layer (api/stripe, api/checkout ...) may use
    # each other, but never in a circle.
    local loop
    loop=$(printf '%s\n' "${edges[@]}" | tsort 2>&1 >/dev/null || true)
    if [ -n "$loop" ]; then
        echo "check-layers: the folders include each other in a circle:" >&2
        echo "$loop" | sed 's/^/  /' >&2
        bad=1
    fi
    return $bad
}

# The gateway's roles. A new file is a use case unless it is named here: a
# shared helper belongs in the frame, a driver of use cases (a timer, a queue)
# among the workers. budget.c (the per-merchant provider call limit) is a
# helper every provider-bound use case takes from; abandon.c (a checkout
# session's open attempt closed so the customer can choose again) composes the
# session and payment use cases, as the workers do, and nothing below calls it.
# settings.c (the merchant's hidden methods, expiry periods and credentials) is
# a helper the use cases read their rules from, like budget.c.
GW_FRAME=" gateway.c codec.c intent.c budget.c settings.c "
GW_WORKERS=" scheduler.c dispatch.c abandon.c "

gw_role() {
    if [[ $GW_FRAME == *" $1 "* ]]; then
        echo frame
    elif [[ $GW_WORKERS == *" $1 "* ]]; then
        echo worker
    else
        echo usecase
    fi
}

# Non-static gw_* functions defined in a file: a name at column 0 whose
# declaration reaches a "{" line before a ";".
defined_in() {
    awk 'match($0, /^[a-z][a-z_0-9 ]*[ *]+(gw_[a-z_0-9]+)\(/) {
             s = substr($0, RSTART, RLENGTH); sub(/\($/, "", s); n = split(s, w, /[ *]+/); cand = w[n]
         }
         cand != "" && /;[[:space:]]*$/ { cand = "" }
         cand != "" && /^\{/ { print cand; cand = "" }' "$1"
}

check_gateway() {
    local dir=$1/gateway bad=0 f name fn owner from to
    [ -d "$dir" ] || return 0
    declare -A def=()
    for f in "$dir"/*.c; do
        name=$(basename "$f")
        while IFS= read -r fn; do def[$fn]=$name; done < <(defined_in "$f")
    done
    for f in "$dir"/*.c; do
        name=$(basename "$f")
        from=$(gw_role "$name")
        while IFS= read -r fn; do
            owner=${def[$fn]:-}
            [ -z "$owner" ] || [ "$owner" = "$name" ] && continue
            to=$(gw_role "$owner")
            case "$from:$to" in
            worker:* | *:frame) ;;
            *)
                echo "check-layers: gateway/$name ($from) uses $fn of gateway/$owner ($to):" \
                    "the frame and the use cases call down only" >&2
                bad=1
                ;;
            esac
        done < <(sed -E 's://.*$::' "$f" | grep -oE '\bgw_[a-z_0-9]+\b' | sort -u)
    done
    return $bad
}

check_tree() {
    local src=$1 rc=0
    check_includes "$src" || rc=1
    check_gateway "$src" || rc=1
    return $rc
}

self_test() {
    local tmp rc=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/src/base" "$tmp/src/domain" "$tmp/src/gateway" "$tmp/src/api" "$tmp/src/server"
    echo '#include "../base/common.h"' > "$tmp/src/domain/money.c"
    : > "$tmp/src/base/common.h"
    : > "$tmp/src/gateway/gateway.h"
    : > "$tmp/src/server/http.h"
    echo '#include "../server/http.h"' > "$tmp/src/api/api.c"
    printf 'k_status gw_pi_get(void)\n{\n    return 0;\n}\n' > "$tmp/src/gateway/gateway.c"
    printf 'k_status gw_pi_capture(void)\n{\n    return gw_pi_get();\n}\n' > "$tmp/src/gateway/payments.c"
    if ! check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: a clean tree was refused" >&2
        rc=1
    fi
    echo '#include "../gateway/gateway.h"' >> "$tmp/src/domain/money.c"
    if check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: domain including gateway was not caught" >&2
        rc=1
    fi
    sed -i '$d' "$tmp/src/domain/money.c"
    printf 'k_status gw_pi_refund(void)\n{\n    return gw_pi_capture();\n}\n' > "$tmp/src/gateway/refunds.c"
    if check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: a use case calling another was not caught" >&2
        rc=1
    fi
    rm "$tmp/src/gateway/refunds.c"
    printf 'void *gw_scheduler_main(void *a)\n{\n    return a;\n}\n' > "$tmp/src/gateway/scheduler.c"
    printf 'void f(void)\n{\n    start(gw_scheduler_main);\n}\n' >> "$tmp/src/gateway/gateway.c"
    if check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: the frame naming a worker was not caught" >&2
        rc=1
    fi
    sed -i '$d' "$tmp/src/gateway/gateway.c"
    sed -i '$d' "$tmp/src/gateway/gateway.c"
    sed -i '$d' "$tmp/src/gateway/gateway.c"
    sed -i '$d' "$tmp/src/gateway/gateway.c"
    rm "$tmp/src/gateway/scheduler.c"
    if ! check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: the tree was not clean again" >&2
        rc=1
    fi
    mkdir -p "$tmp/src/api/a" "$tmp/src/api/b"
    echo '#include "../b/b.h"' > "$tmp/src/api/a/a.h"
    echo '#include "../a/a.h"' > "$tmp/src/api/b/b.h"
    if check_tree "$tmp/src" 2>/dev/null; then
        echo "check-layers self-test: two api folders including each other were not caught" >&2
        rc=1
    fi
    [ $rc -eq 0 ] && echo "check-layers self-test: ok (an upward include, sideways calls and a circle are refused)"
    return $rc
}

if [ "${1:-}" = --self-test ]; then
    self_test
    exit
fi
SRC=${1:-src}
if check_tree "$SRC"; then
    echo "check-layers: ok ($(find "$SRC" -name '*.[ch]' | wc -l) files)"
else
    exit 1
fi
