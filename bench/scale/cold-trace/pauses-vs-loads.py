"""Lines up the slowest cold loads of ColdTrace's output with the JVM's pauses (diagnostic, see README.md).

usage: python3 pauses-vs-loads.py TRACE_FILE GC_LOG [MIN_PAUSE_MS]

GC_LOG is written by -Xlog:gc,safepoint:file=GC_LOG:uptime. Prints every pause of at least MIN_PAUSE_MS (default 1)
between the first and the last measured load's start (the probe's window, a second either side), and for each of
the slowest loads listed in TRACE_FILE the pause that overlaps it, if any: a pause that stopped the JVM while the
load was under way (a load is taken to run from its start uptime for its total).
"""
import re
import sys

trace_file, gc_log = sys.argv[1], sys.argv[2]
min_pause = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0

loads = []  # (start s, total ms, line)
for line in open(trace_file):
    found = re.search(r"total ([0-9.]+) at uptime ([0-9.]+)", line)
    if found:
        loads.append((float(found.group(2)), float(found.group(1)), line.rstrip()))
if not loads:
    sys.exit(f"no 'total ... at uptime ...' lines in {trace_file}")

pauses = []  # (end s, ms, what): uptime decorations mark the end of a pause
for line in open(gc_log):
    at = re.match(r"\[([0-9.]+)s\]", line)
    total = re.search(r'Safepoint "([^"]+)".*Total: ([0-9]+) ns', line)
    if at and total:
        pauses.append((float(at.group(1)), int(total.group(2)) / 1e6, total.group(1)))

first, last = min(l[0] for l in loads) - 1, max(l[0] for l in loads) + 1
window = [p for p in pauses if first <= p[0] <= last + 0.1]
print(f"slowest loads: {len(loads)}, started at uptime {first + 1:.3f}-{last - 1:.3f} s")
print(f"pauses of >= {min_pause} ms in that window (a second either side):")
for end, ms, what in window:
    if ms >= min_pause:
        print(f"  ended at {end:.3f} s: {ms:.3f} ms {what}")
hit = 0
for start, total, line in loads:
    end = start + total / 1000
    overlapping = [p for p in window if p[0] - p[1] / 1000 <= end and p[0] >= start and p[1] >= min_pause]
    if overlapping:
        hit += 1
        print(f"  load at {start:.3f} s, {total:.2f} ms: overlaps {', '.join(f'{p[1]:.2f} ms {p[2]}' for p in overlapping)}")
print(f"{hit} of the {len(loads)} slowest loads overlap a pause of >= {min_pause} ms")
