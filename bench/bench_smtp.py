"""D1 and D2: our SMTP transport against Postfix's smtp-source, both sending to Postfix's smtp-sink.

D1 — CPU-bound: N messages of ~20 KB to a sink that answers at once. Ours: the dispatcher's path per
message — :meth:`glocal.delivery.email_skeleton.VariantMail.build` (the demo template compiled once per store
variant, the recipient's fields, tracked links, signed unsubscribe URL, RFC 5322/8058 headers) then
``SmtpConnection.send_bytes`` — in 2 processes × 16 threads, each thread with its own connection.
(The outbox's database writes are measured by E1, end to end.)
Reference: ``smtp-source -d -s 32 -l SIZE -m N`` (32 parallel sessions, connections kept open), SIZE
being the size of our message, so that both sides move the same bytes.
D2 — slow receiver: the sink waits 1 s before answering DATA (``smtp-sink -w 1``); 100 connections on
both sides (ours: 2 processes × 50 threads). Figures are messages per second; higher is better.
Needs ``smtp-sink`` and ``smtp-source`` (``make bench-deps`` installs Debian's postfix).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Any

from bench import Result, benchmark, interleaved
from glocal.delivery.transports.email_smtp import SmtpConnection, SmtpSettings


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def sink(wait: int = 0):
    sink_bin = _tool("smtp-sink")
    if not sink_bin:
        raise RuntimeError("smtp-sink not found: run `make bench-deps` (Debian package postfix)")
    port = _free_port()
    args = [sink_bin, "-u", "nobody"] if os.geteuid() == 0 else [sink_bin]
    if wait:
        args += ["-w", str(wait)]
    proc = subprocess.Popen([*args, f"127.0.0.1:{port}", "1024"])
    try:
        for _ in range(200):  # wait until it listens
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.01)
        yield port
    finally:
        proc.terminate()
        proc.wait()


def _thread_send(port: int, start: int, count: int, errors: list, mail: Any) -> None:
    with SmtpConnection(SmtpSettings(host="127.0.0.1", port=port, timeout=60, max_messages=10**9)) as conn:
        for i in range(start, start + count):
            recipient = {"id": i, "first_name": f"Client {i}", "last_name": "", "email": f"c{i}@example.com"}
            try:
                data = mail.build(recipient)
                conn.send_bytes(
                    envelope_from="bounces@maison-verte.example",
                    recipient=recipient["email"],
                    data=data,
                    message_id=f"<c42-{i}@maison-verte.example>",
                )
            except Exception as error:  # noqa: BLE001 - counted and reported
                errors.append(repr(error))


def _process_send(args: tuple[int, int, int, int]) -> list[str]:
    from bench.bench_render import build_mail, make_variant

    port, start, count, threads = args
    errors: list[str] = []
    per = count // threads
    mail = build_mail(make_variant())  # once per store variant, as the dispatcher does (shared by threads)
    workers = [
        threading.Thread(target=_thread_send, args=(port, start + t * per, per, errors, mail))
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def ours_send(port: int, messages: int, processes: int, threads: int) -> None:
    per = messages // processes
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_process_send, [(port, p * per, per, threads) for p in range(processes)])
    errors = [e for r in results for e in r]
    if errors:
        raise RuntimeError(f"{len(errors)} send errors, first: {errors[0]}")


def reference_send(port: int, messages: int, sessions: int, size: int = 20_000) -> None:
    subprocess.run(
        [_tool("smtp-source") or "smtp-source", "-d", "-s", str(sessions), "-l", str(size),
         "-m", str(messages), "-f", "bench@example.com", "-t", "sink@example.com", f"127.0.0.1:{port}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _message_size() -> int:
    from bench.bench_render import build_mail, make_variant

    return len(build_mail(make_variant()).build({"id": 1, "first_name": "Camille", "email": "c@example.com"}))


def _run(bench_id: str, quick: bool, *, wait: int, messages: int, processes: int, threads: int) -> Result:
    import django

    django.setup()  # the builder renders the template (creatives) with Django's settings
    runs = 3 if quick else 5
    sessions = processes * threads
    size = _message_size()
    with sink(wait) as port:
        t_ours, t_ref = interleaved(
            lambda: ours_send(port, messages, processes, threads),
            lambda: reference_send(port, messages, sessions, size),
            runs=runs,
        )
    sent = (messages // processes // threads) * processes * threads
    return Result(
        id=bench_id,
        ours=round(sent / t_ours, 1),
        reference=round(messages / t_ref, 1),
        unit="msg/s",
        target="≥ 0.5" if bench_id == "D1" else "≥ 0.95",
        dataset=(
            f"{messages:,} messages of ~{size // 1000} KB (reference -l {size}), "
            f"{sessions} connections, sink wait {wait} s"
        ),
        runs=runs,
        higher_is_better=True,
        notes=f"ours: {processes} processes × {threads} threads, VariantMail.build + send per message",
        extra={"cpus": os.cpu_count()},
    )


@benchmark("D1")
def bench_d1(quick: bool) -> Result:
    return _run("D1", quick, wait=0, messages=3_200 if quick else 100_000, processes=2, threads=16)


@benchmark("D2")
def bench_d2(quick: bool) -> Result:
    return _run("D2", quick, wait=1, messages=200 if quick else 1_000, processes=2, threads=50)
