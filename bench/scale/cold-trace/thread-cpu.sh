#!/usr/bin/env bash
# Samples, once a second until the file STOP_FILE exists, the CPU time (utime + stime, in clock ticks) of every
# thread of the java process whose command line holds JAR, and of every postgres process; one line per thread:
#   EPOCH_SECONDS J|P TID NAME TICKS
# usage: bench/scale/cold-trace/thread-cpu.sh JAR OUT [STOP_FILE]    (diagnostic, see README.md)
jar=$1; out=$2; stop=${3:-/tmp/thread-cpu.stop}
: > "$out"
while [ ! -f "$stop" ]; do
    pid=$(pgrep -f "java.*-jar $jar" | head -n 1)
    ts=$(date +%s.%N)
    if [ -n "$pid" ]; then
        for task in /proc/"$pid"/task/*; do
            read -r line < "$task/stat" 2>/dev/null || continue
            comm=$(cat "$task/comm" 2>/dev/null)
            # shellcheck disable=SC2086 # the fields after "(comm) " split on purpose: 12 and 13 are utime, stime
            set -- ${line##*) }
            echo "$ts J ${task##*/} ${comm// /_} $(( ${12} + ${13} ))"
        done >> "$out"
    fi
    for p in $(pgrep -x postgres); do
        read -r line < /proc/"$p"/stat 2>/dev/null || continue
        # shellcheck disable=SC2086
        set -- ${line##*) }
        echo "$ts P $p $(tr '\0' ' ' < /proc/"$p"/cmdline | cut -c1-40 | tr ' ' '_') $(( ${12} + ${13} ))"
    done >> "$out"
    sleep 1
done
