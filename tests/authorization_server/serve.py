"""Entry point of the authorization server subprocess started by ``harness.py``.

Migrating and serving in one interpreter spares a second Django start-up. The
process binds its own socket on 127.0.0.1 (port 0 by default) and reports the port
through a file, so no other process can take the port between choice and bind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn

LOOPBACK = "127.0.0.1"


def watch_parent(
    parent_pid: int, server: uvicorn.Server, orphaned: threading.Event
) -> None:
    """Stops the server if the test process dies without stopping it.

    A killed pytest cannot run its fixture teardown; being re-parented is how the
    subprocess notices. ``should_exit`` is uvicorn's own orderly shutdown.
    """
    while os.getppid() == parent_pid:
        time.sleep(1)
    orphaned.set()
    server.should_exit = True


def write_atomically(path: Path, text: str) -> None:
    """The harness polls for this file, so it must never see it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, default=os.getppid())
    arguments = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)

    from django.core.asgi import get_asgi_application

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, arguments.port))
    listener.listen(128)
    config = uvicorn.Config(
        get_asgi_application(),
        lifespan="off",
        # The access log would print query strings; no token or code may be logged.
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    orphaned = threading.Event()
    threading.Thread(
        target=watch_parent, args=(arguments.parent_pid, server, orphaned), daemon=True
    ).start()
    write_atomically(arguments.port_file, str(listener.getsockname()[1]))
    server.run(sockets=[listener])
    if orphaned.is_set():
        # The harness that would remove the data directory is gone.
        shutil.rmtree(os.environ["AUTHZ_SERVER_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
