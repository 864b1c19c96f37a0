"""The engine framework: engines declare their actions in code and run them with a context.

An engine is a class::

    class Craigslist(Engine):
        name = "craigslist"
        version = "2.0"
        description = "Job listings"

        class Settings(BaseModel):
            city: str

        @start_action("search", description="Search listings")
        def search(self, ctx: ActionContext) -> None:
            result = ctx.store_items([ItemRecord(uri=...)])
            ctx.enqueue("extractor", list(result.item_ids.values()))

        @item_action("extractor", description="Extract a listing")
        async def extract(self, ctx: ActionContext, task: Task) -> None: ...

Start actions take no input (searches, seeds) and are what schedules run; item actions consume
the queued events of their action. This is the original ``actions()`` dictionary (action name
→ function), declared with decorators instead. Action functions may be sync or async:
``run_start_actions``/``run_item_action`` are synchronous and run a coroutine to completion on
its own event loop; the worker uses ``run_item_action_async``, which awaits async actions on
its loop and runs sync ones in threads. The context's helpers are blocking store calls either
way.

Engines reach data only through the context: its store helpers, ``ctx.db.run`` with a store
function, and ``ctx.queue`` (the worker's queue; a ``SqlQueue`` on ``db`` when none is given).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.fetchers import EngineBrowser, EngineFetch, Fetchers
from haystack_collector.engines.revisiting import RevisitSpec
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.logs import get_logger, log_performance, logging_context
from haystack_collector.queue import SqlQueue, Task, WorkQueue
from haystack_collector.store import BatchResult, ItemRecord

ActionKind = Literal["start", "item"]
F = TypeVar("F", bound=Callable[..., Any])

# The attribute the decorators leave on a function; Engine.actions() collects them.
_SPEC_ATTRIBUTE = "__haystack_action__"

log = get_logger("haystack.engines")


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One declared action: its name in the Actions table and the method that performs it."""

    name: str
    kind: ActionKind
    function: str
    description: str | None = None
    params: Mapping[str, Any] | None = None  # stored as JSON in EngineActions.actionParams


def _declare(
    kind: ActionKind, name: str, description: str | None, params: Mapping[str, Any] | None
) -> Callable[[F], F]:
    if not name or not name.strip():
        raise ValueError("an action needs a name")

    def decorate(function: F) -> F:
        spec = ActionSpec(name, kind, function.__name__, description, params)
        setattr(function, _SPEC_ATTRIBUTE, spec)
        return function

    return decorate


def start_action(
    name: str, *, description: str | None = None, params: Mapping[str, Any] | None = None
) -> Callable[[F], F]:
    """Declare a method ``(self, ctx)`` as an action with no input (a search, a seed)."""
    return _declare("start", name, description, params)


def item_action(
    name: str, *, description: str | None = None, params: Mapping[str, Any] | None = None
) -> Callable[[F], F]:
    """Declare a method ``(self, ctx, task)`` that handles queued events of action ``name``."""
    return _declare("item", name, description, params)


class NoSettings(BaseModel):
    """The settings of an engine that has none: anything given is an error."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class RegisteredEngine:
    """An engine's rows in the catalog: its id and the id of each of its actions by name."""

    engine_id: int
    name: str
    version: str
    action_ids: Mapping[str, int]


class Engine:
    """Base class of every engine; subclasses set the class attributes and declare actions."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"
    description: ClassVar[str | None] = None
    Settings: ClassVar[type[BaseModel]] = NoSettings
    # One Status row per successful item-action run; an engine running many small tasks a
    # second (a crawl: one per page) sets False so its rows do not double its writes.
    # Failures are always recorded.
    status_per_run: ClassVar[bool] = True
    # How the engine looks at what it collected again (None: it does not; see
    # engines/revisiting.py and revisits.py).
    revisit: ClassVar[RevisitSpec | None] = None

    @classmethod
    def actions(cls) -> dict[str, ActionSpec]:
        """Every declared action by name, subclasses overriding their bases."""
        # A copy: the cached mapping serves every task the worker runs.
        return dict(_declared_actions(cls))  # type: ignore[arg-type]  # classes hash by identity

    @classmethod
    def start_actions(cls) -> list[ActionSpec]:
        return [spec for spec in cls.actions().values() if spec.kind == "start"]

    @classmethod
    def settings_schema(cls) -> dict[str, Any]:
        """The JSON schema of the settings, for the API and the UI."""
        return cls.Settings.model_json_schema()

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """The settings as the engine's model; ConfigError naming each bad field otherwise."""
        if isinstance(settings, cls.Settings):
            return settings
        raw = settings.model_dump() if isinstance(settings, BaseModel) else dict(settings or {})
        try:
            return cls.Settings.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']) or '(settings)'}: {issue['msg']}"
                for issue in error.errors()
            )
            raise ConfigError(f"engine {cls.name!r} settings are invalid: {problems}") from error

    @classmethod
    async def close_resources(cls) -> None:
        """Release what the engine keeps per process (HTTP clients, pools); called by a
        worker on its event loop as it stops. Engines that keep nothing need not override."""

    @classmethod
    def register(cls, db: Database) -> RegisteredEngine:
        """Upsert the engine, its actions and which it performs (idempotent)."""
        if not cls.name:
            raise ConfigError(f"engine class {cls.__qualname__} has no name")
        return db.run(_register, cls)


@functools.cache
def _declared_actions(engine: type[Engine]) -> dict[str, ActionSpec]:
    # Read from the class once: the worker asks for every task it runs.
    found: dict[str, ActionSpec] = {}
    for klass in reversed(engine.__mro__):
        for attribute in vars(klass).values():
            spec = getattr(attribute, _SPEC_ATTRIBUTE, None)
            if isinstance(spec, ActionSpec):
                found[spec.name] = spec
    return found


def _register(conn: Connection, engine: type[Engine]) -> RegisteredEngine:
    engine_id = store.register_engine(
        conn, name=engine.name, version=engine.version, description=engine.description
    )
    action_ids: dict[str, int] = {}
    for spec in engine.actions().values():
        action_id = store.register_action(conn, name=spec.name, description=spec.description)
        store.register_engine_action(
            conn,
            engine_id=engine_id,
            action_id=action_id,
            function=spec.function,
            params=None if spec.params is None else json.dumps(dict(spec.params), sort_keys=True),
        )
        action_ids[spec.name] = action_id
    return RegisteredEngine(engine_id, engine.name, engine.version, action_ids)


@dataclass(slots=True)
class ActionContext:
    """What an action gets: the database, the queue, its ids and settings, a logger, helpers.

    The helpers go through the store and the queue only and each is its own committed unit of
    work, so an action that fails halfway keeps what it stored: handlers must be idempotent
    anyway (the queue delivers at least once, and ``store_items`` is an upsert).
    """

    db: Database
    engine: RegisteredEngine
    action: str
    settings: BaseModel
    log: logging.Logger
    queue: WorkQueue
    items_stored: int = field(default=0)
    events_enqueued: int = field(default=0)
    # Set once an item action finished its own event in the transaction storing its results
    # (``store_items(..., finish=task)``): the worker must not finish it a second time.
    event_done: bool = field(default=False)
    # The process's fetchers as this engine sees them (handed down by the runtime).
    fetch: EngineFetch = field(default_factory=lambda: Fetchers().for_engine(""))

    @property
    def engine_id(self) -> int:
        return self.engine.engine_id

    @property
    def action_ids(self) -> Mapping[str, int]:
        return self.engine.action_ids

    def action_id(self, name: str) -> int:
        try:
            return self.engine.action_ids[name]
        except KeyError:
            raise NotFoundError(
                f"engine {self.engine.name!r} declares no action {name!r}"
            ) from None

    @property
    def fetch_settings(self) -> FetchSettings:
        """The engine's fetch settings (the runtime's, Config's DefaultDelay applied)."""
        return self.fetch.settings

    def fetcher(self, settings: FetchSettings | None = None) -> Fetcher:
        """The running loop's shared Fetcher of this engine: of ``settings`` when given (say
        ``dataclasses.replace(ctx.fetch_settings, min_delay=0)``), else the engine's."""
        return self.fetch.fetcher(settings)

    def new_fetcher(self, settings: FetchSettings | None = None) -> Fetcher:
        """A Fetcher owned by the caller (``async with``), for work on a loop of its own."""
        return self.fetch.new_fetcher(settings)

    def browser(self) -> EngineBrowser:
        """The process's browser fetcher as this engine sees it (``render``, ``page``):
        navigations through this engine's fetcher, under the same rules as every fetch."""
        return self.fetch.browser()

    def store_items(
        self, records: Sequence[ItemRecord], *, finish: Task | None = None
    ) -> BatchResult:
        """Store the records (an upsert); with ``finish``, that task's event is finished in the
        same transaction (``queue.finish_within``), so the results and the finished event
        commit together, and the worker does not finish it again."""
        if finish is None:
            result = self.db.run(store.store_items, engine_id=self.engine_id, records=records)
        else:
            result = self.db.run(_store_and_finish, self, records=records, task=finish)
            self.event_done = True
        self.items_stored += len({record.uri for record in records})
        return result

    def enqueue(self, action_name: str, item_ids: Sequence[int]) -> int:
        """Queue ``action_name`` of this engine for the items; returns how many are new."""
        added = self.queue.enqueue(
            engine_id=self.engine_id, action_id=self.action_id(action_name), item_ids=item_ids
        )
        self.events_enqueued += added
        return added

    def status(self, message: str) -> int:
        return self.db.run(
            store.add_status,
            message=message,
            engine_id=self.engine_id,
            action_id=self.engine.action_ids.get(self.action),
        )


def _store_and_finish(
    conn: Connection, context: ActionContext, *, records: Sequence[ItemRecord], task: Task
) -> BatchResult:
    result = store.store_items(conn, engine_id=context.engine_id, records=records)
    context.queue.finish_within(conn, task)
    return result


# --- running actions (the worker and the scheduler call these) -----------------------------


@dataclass(frozen=True, slots=True)
class ActionResult:
    """How one run of one action went; ``ok`` False means the worker should retry the task."""

    engine: str
    action: str
    ok: bool
    duration: float  # seconds
    items_stored: int = 0
    events_enqueued: int = 0
    error: str | None = None
    task: Task | None = None
    event_done: bool = False  # the action already finished its event (see ActionContext)


def run_start_actions(
    engine: type[Engine],
    db: Database,
    settings: Mapping[str, Any] | BaseModel | None = None,
    *,
    queue: WorkQueue | None = None,
    fetchers: Fetchers | None = None,
) -> list[ActionResult]:
    """Run each start action of ``engine`` once, in declaration order; one result each.

    Invalid settings fail every action (one Status row each) rather than raising, like any
    other failure: a scheduler firing a bad schedule must not stop. Events the actions queue
    go to ``queue`` (a ``SqlQueue`` on ``db`` by default); ``fetchers`` are the runtime's
    (None: fetchers of the default ``FetchSettings``).
    """
    registered = engine.register(db)
    queue = _queue_of(db, queue)
    fetchers = fetchers if fetchers is not None else Fetchers()
    return [
        _run(engine, db, registered, spec, settings, queue=queue, task=None, fetchers=fetchers)
        for spec in engine.start_actions()
    ]


def run_item_action(
    engine: type[Engine],
    db: Database,
    task: Task,
    settings: Mapping[str, Any] | BaseModel | None = None,
    *,
    queue: WorkQueue | None = None,
    fetchers: Fetchers | None = None,
) -> ActionResult:
    """Run the item action of ``engine`` that ``task`` was queued for; never raises an Exception.

    The caller finishes the task on ``ok`` (unless ``event_done``: the action finished it
    through ``queue``, a ``SqlQueue`` on ``db`` by default) and retries it otherwise.
    """
    started = time.perf_counter()
    try:
        registered = engine.register(db)
        spec = _item_spec(engine, registered, task)
    except Exception as error:
        return _cannot_run(engine, task, started, error)
    fetchers = fetchers if fetchers is not None else Fetchers()
    return _run(
        engine,
        db,
        registered,
        spec,
        settings,
        queue=_queue_of(db, queue),
        task=task,
        fetchers=fetchers,
    )


async def run_item_action_async(
    engine: type[Engine],
    db: Database,
    task: Task,
    settings: Mapping[str, Any] | BaseModel | None = None,
    *,
    registered: RegisteredEngine | None = None,
    queue: WorkQueue | None = None,
    fetchers: Fetchers | None = None,
) -> ActionResult:
    """``run_item_action`` for an event loop: async actions are awaited on the running loop,
    sync ones and every store call run in a thread, so the loop never blocks on them.

    ``registered`` (from ``engine.register(db)``) spares a worker one catalog upsert per task.
    ``fetchers``: the worker's, which it closes as it stops; without them the action gets
    fetchers of the default settings, closed when it ends.
    The context's helpers are still blocking store calls: an async action calling them holds
    the loop for that long. Never raises an Exception; cancellation propagates (no Status row).
    """
    started = time.perf_counter()
    try:
        if registered is None:
            registered = await asyncio.to_thread(engine.register, db)
        spec = _item_spec(engine, registered, task)
    except Exception as error:
        return _cannot_run(engine, task, started, error)
    queue = _queue_of(db, queue)
    if fetchers is not None:
        return await _run_async(
            engine, db, registered, spec, settings, queue=queue, task=task, fetchers=fetchers
        )
    own = Fetchers()
    try:
        return await _run_async(
            engine, db, registered, spec, settings, queue=queue, task=task, fetchers=own
        )
    finally:
        await own.aclose()


def _queue_of(db: Database, queue: WorkQueue | None) -> WorkQueue:
    return SqlQueue(db) if queue is None else queue


def _item_spec(engine: type[Engine], registered: RegisteredEngine, task: Task) -> ActionSpec:
    by_id = {action_id: name for name, action_id in registered.action_ids.items()}
    spec = engine.actions().get(by_id.get(task.action_id, ""))
    if spec is None or spec.kind != "item":
        raise NotFoundError(f"engine {engine.name!r} has no item action {task.action_id}")
    return spec


def _cannot_run(engine: type[Engine], task: Task, started: float, error: Exception) -> ActionResult:
    result = ActionResult(
        engine.name, str(task.action_id), False, _since(started), error=_describe(error), task=task
    )
    log.warning("cannot run task %s: %s", task.event_id, result.error)
    return result


def _run(
    engine: type[Engine],
    db: Database,
    registered: RegisteredEngine,
    spec: ActionSpec,
    settings: Mapping[str, Any] | BaseModel | None,
    *,
    queue: WorkQueue,
    task: Task | None,
    fetchers: Fetchers,
) -> ActionResult:
    started = time.perf_counter()
    context: ActionContext | None = None
    error: str | None = None
    with _action_logging(engine, spec, task), _timed(engine, spec):
        try:
            context = _context(
                engine, db, registered, spec, settings, queue=queue, fetchers=fetchers
            )
            outcome = _method(engine, spec, context, task)()
            if inspect.isawaitable(outcome):
                # The action's loop ends with it: so do the fetchers it used there.
                _run_coroutine(outcome, fetchers.aclose)
        except Exception as failure:  # BaseException (Ctrl-C, cancellation) propagates
            error = _failed(failure)
        result = _result(engine, spec, started, context, error=error, task=task)
        if _worth_recording(engine, result):
            _record(db, registered, spec, result)
    return result


async def _run_async(
    engine: type[Engine],
    db: Database,
    registered: RegisteredEngine,
    spec: ActionSpec,
    settings: Mapping[str, Any] | BaseModel | None,
    *,
    queue: WorkQueue,
    task: Task | None,
    fetchers: Fetchers,
) -> ActionResult:
    started = time.perf_counter()
    context: ActionContext | None = None
    error: str | None = None
    with _action_logging(engine, spec, task), _timed(engine, spec):
        try:
            context = _context(
                engine, db, registered, spec, settings, queue=queue, fetchers=fetchers
            )
            call = _method(engine, spec, context, task)
            # A coroutine function is awaited here; a sync one runs in a thread (a sync
            # method returning an awaitable is awaited too, like _run does).
            outcome = call() if _is_async(engine, spec) else await asyncio.to_thread(call)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as failure:  # BaseException (cancellation) propagates
            error = _failed(failure)
        result = _result(engine, spec, started, context, error=error, task=task)
        if _worth_recording(engine, result):
            await asyncio.to_thread(_record, db, registered, spec, result)
    return result


def _worth_recording(engine: type[Engine], result: ActionResult) -> bool:
    """A failure always gets a Status row; a success unless the engine opted out per run."""
    return engine.status_per_run or not result.ok


def _timed(engine: type[Engine], spec: ActionSpec) -> Any:
    # Every run, failed ones too (the failure is caught inside and logged by _failed): a DEBUG
    # line "engine.action took N ms" on haystack.performance, in the action's logging context.
    return log_performance(f"{engine.name}.{spec.name}")


def _action_logging(engine: type[Engine], spec: ActionSpec, task: Task | None) -> Any:
    return logging_context(
        engine_name=engine.name,
        operation=spec.name,
        item_id=None if task is None else task.item_id,
    )


def _context(
    engine: type[Engine],
    db: Database,
    registered: RegisteredEngine,
    spec: ActionSpec,
    settings: Mapping[str, Any] | BaseModel | None,
    *,
    queue: WorkQueue,
    fetchers: Fetchers,
) -> ActionContext:
    # False for engines that must read every body (see FetchingEngine.conditional_get).
    conditional_get = bool(getattr(engine, "conditional_get", True))
    return ActionContext(
        db=db,
        engine=registered,
        action=spec.name,
        settings=engine.validate_settings(settings),
        log=get_logger(f"haystack.engines.{engine.name}"),
        queue=queue,
        fetch=fetchers.for_engine(engine.name, conditional_get=conditional_get),
    )


def _method(
    engine: type[Engine], spec: ActionSpec, context: ActionContext, task: Task | None
) -> Callable[[], Any]:
    """The action bound to a fresh engine instance and its arguments, ready to call."""
    method = getattr(engine(), spec.function)
    return (
        functools.partial(method, context)
        if task is None
        else functools.partial(method, context, task)
    )


def _is_async(engine: type[Engine], spec: ActionSpec) -> bool:
    return inspect.iscoroutinefunction(getattr(engine, spec.function))


def _failed(failure: Exception) -> str:
    error = _describe(failure)
    log.warning("action failed: %s", error, exc_info=failure)
    return error


def _result(
    engine: type[Engine],
    spec: ActionSpec,
    started: float,
    context: ActionContext | None,
    *,
    error: str | None,
    task: Task | None,
) -> ActionResult:
    return ActionResult(
        engine=engine.name,
        action=spec.name,
        ok=error is None,
        duration=_since(started),
        items_stored=0 if context is None else context.items_stored,
        events_enqueued=0 if context is None else context.events_enqueued,
        error=error,
        task=task,
        event_done=context is not None and context.event_done and error is None,
    )


def _run_coroutine(
    awaitable: Awaitable[Any], cleanup: Callable[[], Awaitable[None]] | None = None
) -> Any:
    """Run an async action to completion from sync code, even inside a running event loop;
    ``cleanup`` runs on the same loop after it, however it ended."""

    async def wait() -> Any:
        try:
            return await awaitable
        finally:
            if cleanup is not None:
                await cleanup()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # asyncio.run refuses to nest; a helper thread gets its own loop (and a copy of the
    # logging context, which lives in contextvars).
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, wait()).result()


def _record(
    db: Database, registered: RegisteredEngine, spec: ActionSpec, result: ActionResult
) -> None:
    """One Status row per run; failing to write it is logged, never raised over the result."""
    verdict = "ok" if result.ok else "failed"
    message = (
        f"{registered.name}:{spec.name} {verdict} in {result.duration:.3f}s;"
        f" items stored {result.items_stored}, events enqueued {result.events_enqueued}"
    )
    if result.task is not None:
        message += f"; item {result.task.item_id} (event {result.task.event_id})"
    if result.error is not None:
        message += f"; error: {result.error}"
    try:
        db.run(
            store.add_status,
            message=message,
            engine_id=registered.engine_id,
            action_id=registered.action_ids.get(spec.name),
        )
    except Exception:
        log.exception("could not record the status of %s:%s", registered.name, spec.name)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)
