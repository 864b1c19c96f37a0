"""``haystack serve``: the API and UI, with an embedded worker, scheduler and run executor.

Everything shares one process and one event loop: uvicorn's server is a task next to the
runtime's parts (runtime.py): the Worker (all engines, firing due schedules) and the RunExecutor.
SIGINT/SIGTERM stop all three cleanly (the server closes its connections, the worker and the
runner hand back what they have not finished) and ``serve`` returns, so the command exits 0; a
second signal cancels running tasks at once.

With ``api_processes`` N > 1, this process binds the port and starts N - 1 more processes
(``multiprocessing`` spawn) that answer API requests on the same listening socket, the kernel
handing each connection to whichever accepts first; only this one runs the worker, scheduler
and run executor. A helper process that dies is started again; each one exits when this process
does, and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from fastapi import FastAPI

from haystack_collector.api.app import create_app
from haystack_collector.api.routes.stream import stop_streams
from haystack_collector.db import Database
from haystack_collector.engines.defaults import EngineDefaults, configure_defaults
from haystack_collector.errors import HaystackError
from haystack_collector.logs import get_logger, setup_logging
from haystack_collector.runs import RunExecutor
from haystack_collector.runtime import API_ONLY, SERVE, Runtime
from haystack_collector.settings import Settings
from haystack_collector.store import versions
from haystack_collector.watch.notifier import Notifier
from haystack_collector.worker import Worker

__all__ = ["serve"]

log = get_logger("haystack.serve")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` stops it with everything else.

    (uvicorn's handlers would re-raise the signal after shutting down, turning a clean stop
    into a KeyboardInterrupt.)
    """

    def __init__(self, app: FastAPI, settings: Settings, host: str, port: int) -> None:
        self.app = app
        super().__init__(uvicorn_config(app, settings, host=host, port=port))

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        """Stop serving; a second call closes open connections at once."""
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
        stop_streams(self.app)  # uvicorn waits for open responses; live streams never end


def uvicorn_config(app: FastAPI, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration for the API: X-Forwarded-For/-Proto are believed only from
    the proxies ``forwarded_allow_ips`` names (uvicorn would trust any loopback peer)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # Haystack's logging is configured by the CLI
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,  # a stuck response cannot hold a stop for long
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips) or None,
        server_header=False,
    )


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
    # The address served is one of the Host names the API answers (guards.allowed_host_names).
    settings = settings.model_copy(update={"api_host": host})
    configure_defaults(EngineDefaults.of(settings))
    versions.configure_retention(
        versions.retention_of(settings.versions_keep, settings.versions_max_age)
    )
    try:
        with Runtime.from_settings(settings, db=db, parts=SERVE if worker else API_ONLY) as runtime:
            asyncio.run(_serve(settings, runtime, host=host, port=port))
    finally:
        configure_defaults(None)
        versions.configure_retention(None)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that the API processes share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it each response waits out the client's delayed ACK (40 ms on Linux).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise HaystackError(f"the API could not listen on {host}:{port}: {error}") from error
    sock.set_inheritable(True)
    return sock


async def _serve(settings: Settings, runtime: Runtime, *, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    # Store calls run in threads: room for the worker's tasks, the run executor and requests.
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=runtime.threads, thread_name_prefix="haystack")
    )
    app = create_app(settings, runtime.db)
    server = _Server(app, settings, host, port)
    sock = _listen(host, port) if settings.api_processes > 1 else None
    helpers = None if sock is None else _ApiProcesses(settings, sock, settings.api_processes - 1)
    workers: list[Worker | RunExecutor | Notifier] = runtime.services()

    def stop() -> None:
        server.stop()
        for each in workers:
            each.stop()
        if helpers is not None:
            helpers.stop()

    for number in _SIGNALS:
        loop.add_signal_handler(number, stop)
    sockets = None if sock is None else [sock]
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(server.serve(sockets), name="api")]
    tasks += [asyncio.create_task(each.run(), name=type(each).__name__) for each in workers]
    if helpers is not None:
        tasks.append(asyncio.create_task(helpers.run(), name="api processes"))
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
        if sock is not None:
            sock.close()
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            raise HaystackError(f"{task.get_name()} failed: {result}") from result
    if not server.started:
        raise HaystackError(f"the API could not listen on {host}:{port}")


def _ended(tasks: list[asyncio.Task[Any]]) -> str:
    return ", ".join(task.get_name() for task in tasks if task.done())


class _ApiProcesses:
    """The extra API processes of ``api_processes``, kept running until ``stop()``."""

    RESTART_EVERY_S = 1.0  # how often dead processes are looked for (and started again)

    def __init__(self, settings: Settings, sock: socket.socket, count: int) -> None:
        self.settings = settings
        self.sock = sock
        self.count = count
        # spawn, not fork: the parent holds threads and pooled connections a fork would copy
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._stopping = asyncio.Event()

    def _start_one(self) -> BaseProcess:
        process = self._context.Process(
            target=serve_api_process,
            args=(self.settings, self.sock, os.getpid(), _console_level()),
            name="haystack-api",
            daemon=True,
        )
        process.start()
        return process

    async def run(self) -> None:
        self._processes = [self._start_one() for _ in range(self.count)]
        log.info("%d more API processes started", self.count)
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.RESTART_EVERY_S)
                if self._stopping.is_set():
                    break
                for index, process in enumerate(self._processes):
                    if not process.is_alive():
                        log.warning(
                            "API process %s exited with code %s; starting another",
                            process.pid,
                            process.exitcode,
                        )
                        self._processes[index] = self._start_one()
        finally:
            await asyncio.to_thread(self._end_all)

    def stop(self) -> None:
        self._stopping.set()

    def _end_all(self, grace: float = 10.0) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the process stops its server cleanly
        deadline = time.monotonic() + grace
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def _console_level() -> int:
    """The level of this process's console log handler (the CLI may quieten it)."""
    for handler in get_logger("haystack").handlers:
        if type(handler) is logging.StreamHandler:
            return handler.level
    return logging.NOTSET


def serve_api_process(
    settings: Settings, sock: socket.socket, parent: int, console_level: int = logging.NOTSET
) -> None:
    """An extra API process: answer on ``sock`` until SIGINT/SIGTERM or ``parent`` is gone."""
    # The console only: several processes rotating one log file would race each other.
    for handler in setup_logging(settings.log_level, None, settings.log_json).handlers:
        handler.setLevel(console_level)
    configure_defaults(EngineDefaults.of(settings))  # the engine settings it validates
    versions.configure_retention(
        versions.retention_of(settings.versions_keep, settings.versions_max_age)
    )
    with Runtime.from_settings(settings, parts=API_ONLY) as runtime:
        asyncio.run(_serve_api(settings, runtime.db, sock, parent))


async def _serve_api(settings: Settings, db: Database, sock: socket.socket, parent: int) -> None:
    loop = asyncio.get_running_loop()
    app = create_app(settings, db)
    server = _Server(app, settings, *sock.getsockname()[:2])

    async def watch_parent() -> None:
        # Orphaned (the parent was killed -9): stop rather than keep serving its port alone.
        while not server.should_exit:
            if os.getppid() != parent:
                log.warning("the serving process %s is gone; this API process stops", parent)
                server.stop()
            await asyncio.sleep(1.0)

    for number in _SIGNALS:
        loop.add_signal_handler(number, server.stop)
    watcher = asyncio.create_task(watch_parent())
    try:
        await server.serve([sock])
    finally:
        watcher.cancel()
        for number in _SIGNALS:
            loop.remove_signal_handler(number)
