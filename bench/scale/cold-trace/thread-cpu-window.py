"""CPU ticks (1/100 s) per thread name between two instants, from thread-cpu.sh's output (diagnostic).

usage: python3 thread-cpu-window.py FROM_EPOCH TO_EPOCH SAMPLES_FILE
Thread names ending in a number are summed (the event loops, the certificate-load threads); postgres processes by
their command line.
"""
import collections
import re
import sys

start, end = float(sys.argv[1]), float(sys.argv[2])
first, last, names = {}, {}, {}
for line in open(sys.argv[3]):
    fields = line.split()
    if len(fields) < 5:
        continue
    at, thread, ticks = float(fields[0]), (fields[1], fields[2]), int(fields[4])
    names[thread] = fields[3]
    if at < start:
        first[thread] = ticks
    elif at <= end:
        last[thread] = ticks
total = collections.Counter()
for thread, ticks in last.items():
    # a thread started inside the window counts from 0 (a postgres backend) or not at all (a java thread)
    before = first.get(thread, 0 if thread[0] == "P" else ticks)
    name = re.sub(r"\d+$", "N", names[thread]) if thread[0] == "J" else "postgres: " + names[thread][:30]
    total[name] += ticks - before
print(f"{end - start:.0f} s window, {sum(total.values())} ticks in all")
for name, ticks in total.most_common(12):
    print(f"{ticks:7d} {name}")
