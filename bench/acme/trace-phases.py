#!/usr/bin/env python3
"""Lays out where each cold handshake's time went, from a --trace run of bench/acme-cold-handshake.sh.

Reads the sequential results (name, time_appconnect, ..., started_at) and the proxy's trace log (millisecond
timestamps, acme4j at debug; see logback-trace.xml) and prints, per name, the milliseconds between:

  start      curl launched -> the proxy creates the ACME order (curl's own start-up, a few ms, is in here)
  order      order created -> challenge triggered (directory, newOrder, authorization, challenge certificate)
  ca+va      triggered -> the CA's validation connection finished its handshake (tls-alpn-01 only: the proxy
             logs that connection; empty for http-01)
  seen       -> the proxy's poll saw the challenge valid
  finalize   -> order finalized and certificate downloaded
  store      -> stored (fsync) and logged by the resolver
  hand       -> curl's TLS handshake done (TLS context built, handshake finished), taken as launch +
             time_appconnect: curl's start-up is counted in `start` instead, so this is a little low

Usage: trace-phases.py SEQUENTIAL_TSV PROXY_LOG
"""
import datetime
import re
import statistics
import sys

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ")
THREAD = re.compile(r"\[([^\]]+)\]")


def stamp(line):
    match = STAMP.match(line)
    if not match:
        return None
    text = match.group(1).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def main(tsv, log):
    events = [(stamp(line), line) for line in open(log, encoding="utf-8", errors="replace")]
    events = [(t, line) for t, line in events if t is not None]
    columns = ["start", "order", "ca+va", "seen", "finalize", "store", "hand"]
    table = []
    skipped = []
    for row in open(tsv, encoding="utf-8"):
        fields = row.rstrip("\n").split("\t")
        if len(fields) < 8 or fields[4] != "0" or fields[3] != "200":
            continue
        name, handshake = fields[0], float(fields[1])
        started = float(fields[6])
        done = started + handshake
        marks = {}
        # the order for this name: its newOrder payload names it; the order was created just before on that thread
        payload = next((i for i, (t, line) in enumerate(events)
                        if t >= started - 0.01 and "Payload" in line and '"value":"' + name + '"' in line), None)
        if payload is None:
            skipped.append(f"{name}: no order in the log")
            continue
        found = THREAD.search(events[payload][1])
        thread = found.group(1) if found else ""
        create = next((i for i in range(payload, -1, -1)
                       if "OrderBuilder - create" in events[i][1] and "[" + thread + "]" in events[i][1]), payload)
        marks["create"] = events[create][0]
        for t, line in events[create + 1:]:
            if "[" + thread + "]" not in line and "acme-tls/1" not in line:
                continue
            if "trigger" not in marks and "Challenge - trigger" in line:
                marks["trigger"] = t
            elif "trigger" in marks and "va" not in marks and "valid" not in marks and "acme-tls/1" in line:
                marks["va"] = t
            elif "trigger" in marks and "valid" not in marks and '"status":"valid","validated' in line:
                marks["valid"] = t
            elif "order for " + name + ":" in line:
                marks["issued"] = t
            elif "CertificateResolver" in line and "certificate for " + name + "," in line:
                marks["stored"] = t
                break
        if not all(k in marks for k in ("create", "trigger", "valid", "issued", "stored")):
            skipped.append(f"{name}: incomplete trace")
            continue
        va = marks.get("va")
        row_ms = [
            marks["create"] - started,
            marks["trigger"] - marks["create"],
            (va - marks["trigger"]) if va else None,
            marks["valid"] - (va if va else marks["trigger"]),
            marks["issued"] - marks["valid"],
            marks["stored"] - marks["issued"],
            done - marks["stored"],
        ]
        table.append((name, handshake, [None if v is None else v * 1000 for v in row_ms]))
    if not table:
        print("  no complete traces (was the proxy run with --trace?)")
        return
    print(f"  {'name':<24} {'total':>6} " + " ".join(f"{c:>8}" for c in columns))
    for name, total, ms in table:
        cells = " ".join(f"{'-' if v is None else round(v):>8}" for v in ms)
        print(f"  {name[:24]:<24} {total * 1000:>6.0f} {cells}")
    medians = []
    for i in range(len(columns)):
        values = [ms[i] for _, _, ms in table if ms[i] is not None]
        medians.append(f"{round(statistics.median(values)):>8}" if values else f"{'-':>8}")
    total = statistics.median(t for _, t, _ in table) * 1000
    print(f"  {'median':<24} {total:>6.0f} " + " ".join(medians))
    for reason in skipped:
        print(f"  skipped {reason}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    main(sys.argv[1], sys.argv[2])
