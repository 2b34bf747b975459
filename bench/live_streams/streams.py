#!/usr/bin/env python3
"""Opens N event streams on a class (one per bench session, raw sockets), reads
the server's VmRSS with them open, posts once as the first student, and reports
how long each stream took to get the post (p50, p99, max). Then stops the server
(SIGTERM) and reports how long until every stream was closed by it.

Standard library only: asyncio streams, one coroutine per stream."""

import argparse
import asyncio
import os
import signal
import time
import urllib.parse
import urllib.request


def read_sessions(path, n):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            token, csrf, _friend, _class = line.rstrip("\n").split("\t")
            rows.append((token, csrf))
    if len(rows) < n:
        raise SystemExit(f"streams.py: {path} has {len(rows)} sessions, {n} asked")
    return rows[:n]


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Stream:
    def __init__(self):
        self.reader = None
        self.writer = None
        self.got = None  # when the post's frame arrived
        self.closed = None  # when the server ended the stream


async def open_stream(host, port, path, token, stream, opened):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Cookie: cg_session={token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit(f"streams.py: a stream answered {status.decode()}: {head!r}")
    stream.reader, stream.writer = reader, writer
    opened.append(stream)


async def watch(stream, marker):
    buffer = b""
    while True:
        chunk = await stream.reader.read(65536)
        now = time.perf_counter()
        if not chunk:
            stream.closed = now
            return
        buffer += chunk
        if stream.got is None and marker in buffer:
            stream.got = now
            buffer = b""
        elif len(buffer) > 1 << 20:
            buffer = buffer[-4096:]


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100.0 * (len(values) - 1))))
    return values[k]


def post(base, class_id, token, csrf, text):
    data = urllib.parse.urlencode({"csrf_token": csrf, "confirmed": "1", "content": text}).encode()
    request = urllib.request.Request(
        f"{base}/classes/{class_id}/messages",
        data=data,
        headers={"Cookie": f"cg_session={token}"},
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            raise SystemExit(f"streams.py: the post answered {e.code}: {e.read()[:300]!r}")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--class", dest="class_id", required=True)
    ap.add_argument("--sessions", required=True)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--pid", type=int, required=True)
    args = ap.parse_args()

    url = urllib.parse.urlparse(args.base)
    sessions = read_sessions(args.sessions, args.streams)
    path = f"/classes/{args.class_id}/events"
    rss_before = vm(args.pid, "VmRSS")

    streams = [Stream() for _ in sessions]
    opened = []
    started = time.perf_counter()
    # Opened 50 at a time, as browsers arriving would.
    for i in range(0, len(sessions), 50):
        await asyncio.gather(
            *(
                open_stream(url.hostname, url.port, path, token, streams[j], opened)
                for j, (token, _) in enumerate(sessions[i : i + 50], start=i)
            )
        )
    open_secs = time.perf_counter() - started
    marker_text = f"live bench {os.getpid()} {time.time():.0f}"
    marker = marker_text.encode()
    watchers = [asyncio.create_task(watch(s, marker)) for s in streams]
    await asyncio.sleep(1.0)
    rss_open = vm(args.pid, "VmRSS")
    print(f"live_streams: {len(opened)} streams open in {open_secs:.2f} s")
    print(f"live_streams: server VmRSS {rss_before:.1f} MB before, {rss_open:.1f} MB with the streams open")

    token, csrf = sessions[0]
    posted = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(
        None, post, args.base, args.class_id, token, csrf, marker_text
    )
    answered = time.perf_counter() - posted
    deadline = posted + 10.0
    while time.perf_counter() < deadline and any(s.got is None for s in streams):
        await asyncio.sleep(0.01)
    got = [(s.got - posted) * 1000.0 for s in streams if s.got is not None]
    missing = sum(1 for s in streams if s.got is None)
    print(f"live_streams: the post answered in {answered * 1000.0:.1f} ms")
    if got:
        print(
            f"live_streams: {len(got)} of {len(streams)} streams got the post: "
            f"p50 {percentile(got, 50):.0f} ms, p99 {percentile(got, 99):.0f} ms, "
            f"max {max(got):.0f} ms (from sending the POST)"
        )
    if missing:
        print(f"live_streams: {missing} streams did not get it within 10 s")
    print(f"live_streams: server VmRSS {vm(args.pid, 'VmRSS'):.1f} MB after the post, peak {vm(args.pid, 'VmHWM'):.1f} MB")

    stopping = time.perf_counter()
    os.kill(args.pid, signal.SIGTERM)
    done, _ = await asyncio.wait(watchers, timeout=30)
    ended = [s.closed - stopping for s in streams if s.closed is not None]
    if ended:
        print(
            f"live_streams: SIGTERM closed {len(ended)} of {len(streams)} streams, "
            f"the last after {max(ended) * 1000.0:.0f} ms"
        )
    for s in streams:
        if s.writer is not None:
            s.writer.close()


if __name__ == "__main__":
    asyncio.run(main())
