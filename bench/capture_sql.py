#!/usr/bin/env python3
"""Turns PostgreSQL's statement log of the app into pgbench scripts.

bench/run sets `log_statement = 'all'` on the bench database, then asks the app
for each page once per student, with a marker statement before each request
(and before a first, uncounted request of the page, marked "warm"):
    SELECT 'cg-bench-mark:<page>:<n>'
This reads the server log from a byte offset, takes the statements each request
ran (as the server executed them, parameters inlined as the SQL literals the
server logged), and writes one pgbench script per request:
    <out>/<page>-<n>.sql

usage: capture_sql.py LOGFILE OFFSET DATABASE OUTDIR
"""

import os
import re
import sys

ENTRY = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] (?P<who>\S*@\S*) (?P<level>[A-Z]+):  (?P<text>.*)$"
)
PARAM = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")
MARK = re.compile(r"SELECT 'cg-bench-mark:([a-z]+):(\d+)'")


def entries(path, offset, database):
    """(text, detail) for each LOG entry of `database`, in order."""
    with open(path, "rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    current = None
    for line in lines:
        m = ENTRY.match(line)
        if m:
            if current:
                yield current
            who = m.group("who")
            if not who.endswith("@" + database):
                current = None
                continue
            current = [m.group("level"), m.group("text"), None]
        elif current is not None and line.startswith("\t"):
            current[1] += "\n" + line.strip()
        elif current is not None:
            continue
    if current:
        yield current


def main():
    path, offset, database, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    os.makedirs(out, exist_ok=True)
    statements = []  # (page, n, [sql])
    pending = None
    for level, text, _ in entries(path, offset, database):
        if level == "DETAIL" and text.startswith("parameters: ") and pending is not None:
            params = {int(n): v for n, v in PARAM.findall(text)}
            sql = re.sub(r"\$(\d+)", lambda m: params.get(int(m.group(1)), m.group(0)), pending)
            statements[-1][2][-1] = sql
            pending = None
            continue
        if level != "LOG":
            continue
        m = re.match(r"(?:statement|execute [^:]*): (.*)$", text, re.S)
        if not m:
            continue
        sql = m.group(1).strip()
        mark = MARK.search(sql)
        if mark:
            statements.append((mark.group(1), int(mark.group(2)), []))
            pending = None
            continue
        if not statements:
            continue
        statements[-1][2].append(sql)
        pending = sql
    # A page's first request, which fills what it keeps in memory, is marked
    # "warm" and dropped: the scripts hold the page's usual statements.
    statements = [s for s in statements if s[0] != "warm"]
    written = 0
    for page, n, sqls in statements:
        if not sqls:
            continue
        with open(os.path.join(out, f"{page}-{n}.sql"), "w") as f:
            for sql in sqls:
                f.write(sql.rstrip(";") + ";\n")
        written += 1
    counts = {}
    for page, _, sqls in statements:
        counts.setdefault(page, set()).add(len(sqls))
    for page, sizes in sorted(counts.items()):
        print(f"captured {page}: {'/'.join(map(str, sorted(sizes)))} statements per request")
    if written == 0:
        sys.exit("no statements captured: is log_statement = 'all' taking effect?")


if __name__ == "__main__":
    main()
