"""Full-text search over item data, one dialect at a time (the indexes come from migration 0005).

The user's text never becomes query syntax: it is split into words (letters and digits), each
word is quoted in the database's own full-text language and the result is passed as a bound
parameter, so ``"``, ``*``, ``AND``, ``-``, ``(`` or a NUL are plain characters, never operators.
A trailing ``*`` on a word asks for words starting with it (``pyth*``).

Every word must occur in the item, in any of its data values (a title word and a body word
together find the item): one indexed lookup per word, intersected on the item id.

SQLite's index (a contentless FTS5 table over the text rows) numbers each data row
``itemId << 32 | ItemDataId``, so its matches come in item order: ``sqlite_item_ids`` reads one
word's matches newest first and stops once it has a page; for several words, or a word and
other filters, it walks them newest first in windows sized by the rarest word, intersects the
other words within each window and stops once it has a page. MariaDB and PostgreSQL take
``item_matches``, a condition their planners run as semi-joins (MariaDB's InnoDB index skips
words under three letters and its stopwords, so such words are dropped from its queries).
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    and_,
    bindparam,
    false,
    func,
    intersect,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.mysql import match
from sqlalchemy.engine import Connection
from sqlalchemy.sql import column

from haystack_collector.db.schema import item_data, items

# The objects migration 0005 creates (kept equal to the revision's literals).
SQLITE_TABLE = "ItemDataFts"
MYSQL_INDEX = "ft_ItemData_value"
POSTGRES_INDEX = "ix_ItemData_fts"
POSTGRES_PREFIX = 100_000  # the indexed expression reads this many characters of a value
FULLTEXT_OBJECTS = frozenset(
    {
        SQLITE_TABLE,
        *(f"{SQLITE_TABLE}_{shadow}" for shadow in ("data", "idx", "config", "docsize")),
        MYSQL_INDEX,
        POSTGRES_INDEX,
        POSTGRES_INDEX.lower(),
    }
)

MAX_TERMS = 8  # more words narrow little and cost one lookup each
MAX_TERM_LENGTH = 100
# InnoDB indexes no word shorter than innodb_ft_min_token_size (3) nor its default stopwords;
# asking for one would match nothing, so such words are left out of a MariaDB query.
_MYSQL_MIN_LENGTH = 3
_MYSQL_STOPWORDS = frozenset(
    {
        *("a", "about", "an", "are", "as", "at", "be", "by", "com", "de", "en", "for", "from"),
        *("how", "i", "in", "is", "it", "la", "of", "on", "or", "that", "the", "this", "to"),
        *("was", "what", "when", "where", "who", "will", "with", "und", "www"),
    }
)
_WORD = re.compile(r"([^\W_]+)(\*?)")

_fts = table(SQLITE_TABLE, column("rowid", Integer), column("itemDataValue", Text))
_ITEM_SHIFT = 32  # rowid = itemId << 32 | ItemDataId (migration 0005)
_BATCH = 256  # rows of the rarest term a first step reads at least; steps double to _MAX_BATCH
_MAX_BATCH = 8192
_RARITY_CAP = 5_000  # rows counted per term to find the rarest (past it, all are common)
_RARITY_TTL = 300.0  # seconds a term's count is trusted for ordering
_RARITY_KEEP = 10_000  # terms remembered
_rarity: dict[tuple[int, Term], tuple[int, float]] = {}
_rarity_lock = threading.Lock()  # the API reads from a thread pool
_NO_BOUND = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a query; ``prefix`` matches every word that starts with it."""

    word: str
    prefix: bool = False


def parse_query(text: str) -> list[Term]:
    """The words of a user's query, in order, without repeats; punctuation separates words."""
    terms: list[Term] = []
    for word, star in _WORD.findall(text.replace("\x00", " ")):
        term = Term(word.casefold()[:MAX_TERM_LENGTH], prefix=bool(star))
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def is_fulltext_object(name: str | None, type_: str, parent_names: Any) -> bool:
    """True for the objects migration 0005 adds, which the table definitions do not declare.

    Shaped as Alembic's ``include_name`` hook (negated), for schema comparisons.
    """
    return name in FULLTEXT_OBJECTS


def item_matches(dialect: str, text: str) -> ColumnElement[bool]:
    """A condition on ``Items.itemId``: the item's data holds every word of ``text``."""
    terms = _searchable(dialect, parse_query(text))
    if not terms:
        return false()  # nothing searchable was asked: nothing is found
    return and_(
        *(
            items.c.itemId.in_(_matching_item_ids(dialect, term, index))
            for index, term in enumerate(terms)
        )
    )


def _searchable(dialect: str, terms: list[Term]) -> list[Term]:
    if dialect not in ("mysql", "mariadb"):
        return terms
    return [
        term
        for term in terms
        if term.prefix
        or (len(term.word) >= _MYSQL_MIN_LENGTH and term.word not in _MYSQL_STOPWORDS)
    ]


def _matching_item_ids(dialect: str, term: Term, index: int) -> Any:
    """SELECT itemId FROM ItemData WHERE the value holds ``term`` (through the text index)."""
    param = f"fts_{index}"
    if dialect == "sqlite":
        return select(_fts.c.rowid.op(">>")(_ITEM_SHIFT)).where(
            _fts.c.itemDataValue.op("MATCH")(bindparam(param, sqlite_query(term)))
        )
    if dialect in ("mysql", "mariadb"):
        # Boolean mode: a quoted phrase is literal text; word* (letters and digits only) a prefix.
        query = term.word + "*" if term.prefix else '"' + term.word + '"'
        against = match(item_data.c.itemDataValue, against=bindparam(param, query))
        return select(item_data.c.itemId).where(against.in_boolean_mode())
    if dialect == "postgresql":
        # A quoted lexeme is literal; :* asks for a prefix. The expression equals the index's.
        quoted = "'" + term.word.replace("'", "''") + "'" + (":*" if term.prefix else "")
        vector = func.to_tsvector(
            literal_column("'simple'"),
            func.left(item_data.c.itemDataValue, literal_column(str(POSTGRES_PREFIX))),
        )
        return select(item_data.c.itemId).where(
            vector.op("@@")(func.to_tsquery(literal_column("'simple'"), bindparam(param, quoted)))
        )
    raise ValueError(f"no full-text search for {dialect}")


def sqlite_query(term: Term) -> str:
    """FTS5 syntax for one word: a quoted string is plain text; ``"..."*`` is a prefix query."""
    return '"' + term.word.replace('"', '""') + '"' + ("*" if term.prefix else "")


def sqlite_item_ids(
    conn: Connection,
    *,
    terms: list[Term],
    conditions: list[ColumnElement[bool]],
    before: int | None,
    want: int,
    budget: int | None = None,
    need: int = 0,
) -> tuple[list[int], bool]:
    """Up to ``want`` item ids below ``before``, newest first, whose data holds every term and
    that meet ``conditions`` (on Items), and whether the search was complete; SQLite only.

    Steps backwards through the index (rowid order is item order) in windows holding a batch of
    the rarest term's matching rows; within a window SQLite intersects the terms' items and
    checks ``conditions``, all in one statement. Each window starts below the last, so every
    item is listed once, and the work is proportional to the matches read, not to the table.
    With ``budget``, it gives up (incomplete) after about that many of the rarest term's rows,
    but not before it has ``need`` items (a page) or has read every match. One term without
    conditions needs no windows: one scan reads its matches newest first up to ``want`` items.
    """
    if not terms:
        return [], True
    if len(terms) == 1 and not conditions:
        return _newest_holding(conn, terms[0], before=before, want=want), True
    ordered = _rarest_first(conn, terms) if len(terms) > 1 else terms
    words = {f"fts_{index}": sqlite_query(term) for index, term in enumerate(ordered)}
    window = _window(len(ordered)) if not conditions else _window_where(len(ordered), conditions)
    found: list[int] = []
    bound = _NO_BOUND if before is None else before << _ITEM_SHIFT
    # About one row of the rarest term per item wanted to begin with, doubling from there,
    # but never far past the budget.
    batch, read = min(max(_BATCH, want), _MAX_BATCH), 0
    while len(found) < want:
        if budget is not None and read >= budget and len(found) >= need:
            return found, False
        edge = _nth_match(conn, words["fts_0"], below=bound, n=batch)
        # A window starts at an item's first possible rowid, so no item is split between two.
        start = 0 if edge is None else (edge >> _ITEM_SHIFT) << _ITEM_SHIFT
        span = {"fts_start": start, "fts_bound": bound, "fts_limit": want - len(found)}
        found.extend(conn.execute(window, {**words, **span}).scalars())
        if edge is None or start == 0:
            break
        bound, read = start, read + batch
        batch = min(batch * 2, _MAX_BATCH)
        if budget is not None and read < budget:
            batch = min(batch, max(budget - read, _BATCH))
    return found[:want], True


def sqlite_count(conn: Connection, *, terms: list[Term], cap: int) -> int:
    """Items with a data row holding every term, counted up to ``cap`` in one early-stopping
    pass; SQLite only.

    For one term that is the exact count. For several it is a lower bound of the search's
    count (which also finds terms spread over different rows of an item), got from FTS5's own
    AND, which skips through the index instead of reading every row of each term.
    """
    together = " ".join(sqlite_query(term) for term in terms)  # FTS5: words side by side AND
    return int(conn.execute(_ITEMS_COUNT, {"fts_0": together, "fts_cap": cap}).scalar_one())


def _matching(index: int) -> ColumnElement[bool]:
    """``MATCH :fts_<index>``, the word given when the statement runs."""
    return _fts.c.itemDataValue.op("MATCH")(bindparam(f"fts_{index}", type_=Text))


# Built once: a walk runs these a few times per page, and building a statement costs about
# what SQLite takes to run it.
_NTH_MATCH = (
    select(_fts.c.rowid)
    .where(_matching(0), _fts.c.rowid < bindparam("fts_below", type_=Integer))
    .order_by(_fts.c.rowid.desc())
    .limit(1)
    .offset(bindparam("fts_skip", type_=Integer))
)
_CAP = bindparam("fts_cap", type_=Integer)
# Items (distinct), or rows, matching :fts_0, counted up to :fts_cap.
_ITEMS_COUNT = select(func.count()).select_from(
    select(_fts.c.rowid.op(">>")(_ITEM_SHIFT)).where(_matching(0)).distinct().limit(_CAP).subquery()
)
_ROWS_COUNT = select(func.count()).select_from(
    select(_fts.c.rowid).where(_matching(0)).limit(_CAP).subquery()
)


def _nth_match(conn: Connection, query: str, *, below: int, n: int) -> int | None:
    """The rowid of the ``n``-th row below ``below`` matching ``query`` (None: fewer rows)."""
    found = conn.execute(
        _NTH_MATCH, {"fts_0": query, "fts_below": below, "fts_skip": n - 1}
    ).scalar()
    return None if found is None else int(found)


_NEWEST = (
    select(_fts.c.rowid.op(">>")(_ITEM_SHIFT))
    .where(_matching(0), _fts.c.rowid < bindparam("fts_below", type_=Integer))
    .distinct()
    # rowid, not the item: FTS5 reads its index in rowid order and SQLite streams that, the
    # items coming out newest first (item = rowid >> 32) and the scan stopping at the limit.
    .order_by(_fts.c.rowid.desc())
    .limit(bindparam("fts_limit", type_=Integer))
)


def _newest_holding(conn: Connection, term: Term, *, before: int | None, want: int) -> list[int]:
    """Up to ``want`` items below ``before`` holding ``term``, newest first, in one scan."""
    below = _NO_BOUND if before is None else before << _ITEM_SHIFT
    params = {"fts_0": sqlite_query(term), "fts_below": below, "fts_limit": want}
    return [int(item) for item in conn.execute(_NEWEST, params).scalars()]


def _matched(terms: int) -> Any:
    """The items with a row per term (``:fts_0``...) in ``[:fts_start, :fts_bound)``."""
    item = _fts.c.rowid.op(">>")(_ITEM_SHIFT).label("item")
    span = (
        _fts.c.rowid >= bindparam("fts_start", type_=Integer),
        _fts.c.rowid < bindparam("fts_bound", type_=Integer),
    )
    parts = [select(item).where(_matching(index), *span) for index in range(terms)]
    return (intersect(*parts) if len(parts) > 1 else parts[0].distinct()).subquery()


@functools.cache
def _window(terms: int) -> Any:
    """A window's items, newest first, up to ``:fts_limit`` (see ``_matched``)."""
    matched = _matched(terms)
    limit = bindparam("fts_limit", type_=Integer)
    return select(matched.c.item).order_by(matched.c.item.desc()).limit(limit)


def _window_where(terms: int, conditions: list[ColumnElement[bool]]) -> Any:
    """``_window``, keeping the items that meet ``conditions`` (on Items)."""
    matched = _matched(terms)
    return (
        select(items.c.itemId)
        .where(items.c.itemId.in_(select(matched.c.item)), *conditions)
        .order_by(items.c.itemId.desc())
        .limit(bindparam("fts_limit", type_=Integer))
    )


def _rarest_first(conn: Connection, terms: list[Term]) -> list[Term]:
    """The terms ordered by how many rows hold them (up to ``_RARITY_CAP``)."""
    counted = [(_rows_holding(conn, term), term) for term in terms]
    return [term for _count, term in sorted(counted, key=lambda pair: pair[0])]


def _rows_holding(conn: Connection, term: Term) -> int:
    """About how many index rows hold ``term``: remembered for a while, per database.

    Only the order of a search's windows depends on it, never what is found, and how common a
    word is changes slowly; counting it again for every page would cost as much as the page.
    """
    key = (id(conn.engine), term)
    now = time.monotonic()
    with _rarity_lock:
        known = _rarity.get(key)
        if known is not None and now - known[1] < _RARITY_TTL:
            return known[0]
    params = {"fts_0": sqlite_query(term), "fts_cap": _RARITY_CAP}
    count = int(conn.execute(_ROWS_COUNT, params).scalar_one())
    with _rarity_lock:
        if len(_rarity) >= _RARITY_KEEP:
            _rarity.clear()  # cheaper than LRU bookkeeping, and refilled at one count a term
        _rarity[key] = (count, now)
    return count
