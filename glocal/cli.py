"""The ``glocal`` command.

glocal demo [--port P]          migrate, seed the demo network if empty, serve with a worker
glocal serve [--port P]         serve the web app (gunicorn) and, with no broker, the embedded worker
glocal worker [--no-beat]       background jobs and sending (Celery when CELERY_BROKER_URL is set)
glocal seed --stores N --contacts M
glocal import-network FILE [--org SLUG] [--dry-run]
glocal check [--deploy] [--skip NAME]   configuration and connectivity, one line each (docs/operations.md)
glocal <any manage.py command>  e.g. glocal migrate, glocal createsuperuser
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def _manage(*argv: str) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["glocal", *argv])


def serve(port: int, host: str, with_worker: bool) -> int:
    from django.conf import settings

    _manage("collectstatic", "--noinput", "--verbosity", "0")
    children: list[subprocess.Popen[bytes]] = []
    if with_worker and not settings.CELERY_BROKER_URL:
        children.append(subprocess.Popen([sys.executable, "-m", "glocal.cli", "worker"]))  # noqa: S603
    web = subprocess.Popen(  # noqa: S603 - fixed argv, no user input
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "2"),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
    )
    children.append(web)
    print(f"Glocal is serving on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
        for child in children:
            child.wait(timeout=10)


def worker(beat: bool = True) -> int:
    from django.conf import settings

    if settings.CELERY_BROKER_URL:
        from config.celery import app

        argv = ["worker", "--loglevel", "INFO", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2")]
        if beat:  # run the beat (delivery tick) in one worker only when there are several
            argv += ["--beat", "--schedule", os.path.join(settings.DATA_DIR, "celerybeat-schedule")]
        app.worker_main(argv)
        return 0
    from glocal.core.jobs import EmbeddedWorker
    from glocal.delivery.dispatch import DeliveryWorker

    embedded = EmbeddedWorker()
    delivery = DeliveryWorker()

    def stop(*_: object) -> None:
        embedded.stop()
        delivery.stop()

    signal.signal(signal.SIGTERM, stop)
    delivery.start()
    from glocal.reporting.jobs import RollupWorker

    # The reporting rollups every minute (with a broker: the beat's "reporting-rollup" entry).
    RollupWorker().start()
    print(
        f"Embedded worker {embedded.name} polling for jobs and sending ({delivery.threads} threads)",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        embedded.run_forever()
    delivery.stop()
    return 0


def _demo_mail_catcher(port: int) -> None:
    """The demo sends campaigns to a built-in SMTP catcher; the "sent messages" page shows them."""
    from django.conf import settings

    from glocal.delivery import capture

    if settings.GLOCAL_SMTP_HOST:
        return  # an SMTP server was configured: use it
    _controller, smtp_port = capture.start(settings.GLOCAL_MAILBOX_DIR)
    os.environ.update(
        GLOCAL_SMTP_HOST="127.0.0.1",
        GLOCAL_SMTP_PORT=str(smtp_port),
        GLOCAL_PUBLIC_URL=os.environ.get("GLOCAL_PUBLIC_URL", f"http://127.0.0.1:{port}"),
    )
    print(f"Campaign email goes to the demo's mail catcher on 127.0.0.1:{smtp_port}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    _setup()
    if command in {"demo", "serve"}:
        parser = argparse.ArgumentParser(prog=f"glocal {command}")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--stores", type=int, default=30)
        options = parser.parse_args(rest)
        if command == "demo":
            _manage("migrate", "--noinput", "--verbosity", "1")
            _manage("seed", "--if-empty", "--stores", str(options.stores), "--contacts", "3000")
            _demo_mail_catcher(options.port)
        return serve(options.port, options.host, not options.no_worker)
    if command == "worker":
        return worker(beat="--no-beat" not in rest)
    if command == "check":  # ours (check_install), which runs Django's system checks too
        command = "check_install"
    _manage(command.replace("-", "_"), *rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
