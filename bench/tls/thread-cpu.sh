#!/usr/bin/env bash
# CPU of each thread of a process over a command's run, grouped by thread name (digits folded, so the event loops
# "epollEventLoopGroup-2-1", "-2-2" add up as one row): utime + stime ticks from /proc/PID/task/*/stat before and
# after. Shows what share goes to GC, the JIT compilers, the blocking pool and timers rather than the event loops.
#   bench/tls/thread-cpu.sh PID -- wrk ...
set -euo pipefail
pid=$1; shift
[ "${1:-}" = "--" ] && shift
snapshot() {
    for t in /proc/"$pid"/task/*; do
        # comm may contain spaces; it is between the first "(" and the last ")"
        local line name rest
        line=$(cat "$t/stat" 2>/dev/null) || continue
        name=${line#*(}; name=${name%)*}
        rest=${line##*) }
        # fields after ") ": state is 1, utime is 12, stime is 13
        set -- $rest
        printf '%s\t%s\t%d\n' "${t##*/}" "$name" $(( ${12} + ${13} ))
    done
}
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"
"$@"
snapshot >"$after"
awk -F'\t' 'NR == FNR { b[$1] = $3; next }
    { d = $3 - ($1 in b ? b[$1] : 0); n = $2; gsub(/[0-9]+/, "#", n); sum[n] += d; total += d }
    END { for (n in sum) if (sum[n] > 0) printf "%6d ticks %5.1f%%  %s\n", sum[n], 100 * sum[n] / (total ? total : 1), n
          printf "%6d ticks total\n", total }' "$before" "$after" | sort -rn
