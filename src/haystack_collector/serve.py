"""``haystack serve``: the API and UI, with an embedded worker, scheduler and job runner.

Everything shares one process and one event loop: uvicorn's server is a task next to the
Worker (all engines, firing due schedules) and the JobRunner. SIGINT/SIGTERM stop all three
cleanly (the server closes its connections, the worker and the runner hand back what they
have not finished) and ``serve`` returns, so the command exits 0; a second signal cancels
running jobs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn

from haystack_collector.api.app import create_app
from haystack_collector.api.routes.stream import stop_streams
from haystack_collector.db import Database
from haystack_collector.engines.registry import all_engines
from haystack_collector.errors import HaystackError
from haystack_collector.jobs import JobRunner
from haystack_collector.logs import get_logger
from haystack_collector.queue import SqlQueue
from haystack_collector.scheduler import Scheduler
from haystack_collector.settings import Settings
from haystack_collector.worker import Worker

__all__ = ["serve"]

log = get_logger("haystack.serve")

# How often the embedded worker fires due schedules, in seconds (as `haystack worker` does).
SCHEDULE_EVERY_S = 5.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` stops it with everything else.

    (uvicorn's handlers would re-raise the signal after shutting down, turning a clean stop
    into a KeyboardInterrupt.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    worker: bool,
    db: Database | None = None,
) -> None:
    """Serve the API on ``host:port`` until SIGINT/SIGTERM; with ``worker``, collect too.

    ``db`` is the (migrated) database to use; without one it is opened from ``settings``
    and disposed of at the end.
    """
    database = db if db is not None else Database.from_settings(settings)
    try:
        asyncio.run(_serve(settings, database, host=host, port=port, worker=worker))
    finally:
        if db is None:
            database.dispose()


async def _serve(settings: Settings, db: Database, *, host: str, port: int, worker: bool) -> None:
    loop = asyncio.get_running_loop()
    # Store calls run in threads: room for the worker's jobs, the job runner and requests.
    loop.set_default_executor(
        ThreadPoolExecutor(
            max_workers=settings.worker_concurrency + 16, thread_name_prefix="haystack"
        )
    )
    app = create_app(settings, db)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # Haystack's logging is configured by the CLI
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,  # a stuck response cannot hold a stop for long
        )
    )
    workers: list[Worker | JobRunner] = []
    if worker:
        engines = all_engines()
        workers = [
            Worker(
                db,
                SqlQueue(db),
                engines,
                concurrency=settings.worker_concurrency,
                scheduler=Scheduler(db),
                schedule_every=SCHEDULE_EVERY_S,
            ),
            JobRunner(db, engines),
        ]

    def stop() -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        stop_streams(app)  # uvicorn waits for open responses; live streams never end alone
        for each in workers:
            each.stop()

    for number in _SIGNALS:
        loop.add_signal_handler(number, stop)
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(server.serve(), name="api")]
    tasks += [asyncio.create_task(each.run(), name=type(each).__name__) for each in workers]
    try:
        # Whichever ends first (a signal, or the server failing to bind) ends them all.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if not server.should_exit:
            log.error("%s ended unexpectedly; stopping", _ended(tasks))
            stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for number in _SIGNALS:
            loop.remove_signal_handler(number)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            raise HaystackError(f"{task.get_name()} failed: {result}") from result
    if not server.started:
        raise HaystackError(f"the API could not listen on {host}:{port}")


def _ended(tasks: list[asyncio.Task[Any]]) -> str:
    return ", ".join(task.get_name() for task in tasks if task.done())
