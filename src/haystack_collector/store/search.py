"""Full-text search over item data, one dialect at a time (the indexes come from migration 0005).

The user's text never becomes query syntax: it is split into words (letters and digits), each
word is quoted in the database's own full-text language and the result is passed as a bound
parameter, so ``"``, ``*``, ``AND``, ``-``, ``(`` or a NUL are plain characters, never operators.
A trailing ``*`` on a word asks for words starting with it (``pyth*``).

Every word must occur in the item, in any of its data values (a title word and a body word
together find the item): one indexed lookup per word, intersected on the item id.

SQLite's index (a contentless FTS5 table over the text rows) numbers each data row
``itemId << 32 | ItemDataId``, so its matches come in item order: ``sqlite_item_ids`` walks them
newest first in windows sized by the rarest word, intersects the other words within each window
and stops once it has a page. MariaDB and PostgreSQL take ``item_matches``, a condition their
planners run as semi-joins (MariaDB's InnoDB index skips words under three letters and its
stopwords, so such words are dropped from its queries).
"""

from __future__ import annotations

import re
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
_BATCH = 256  # the first step's matching rows; each step doubles it up to _MAX_BATCH
_MAX_BATCH = 8192
_RARITY_CAP = 5_000  # rows counted per term to find the rarest (past it, all are common)
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
) -> tuple[list[int], bool]:
    """Up to ``want`` item ids below ``before``, newest first, whose data holds every term and
    that meet ``conditions`` (on Items), and whether the search was complete; SQLite only.

    Steps backwards through the index (rowid order is item order) in windows holding a batch of
    the rarest term's matching rows; within a window SQLite intersects the terms' items and
    checks ``conditions``, all in one statement. Each window starts below the last, so every
    item is listed once, and the work is proportional to the matches read, not to the table.
    With ``budget``, it gives up (incomplete) after about that many of the rarest term's rows.
    """
    if not terms:
        return [], True
    ordered = _rarest_first(conn, terms) if len(terms) > 1 else terms
    found: list[int] = []
    bound = _NO_BOUND if before is None else before << _ITEM_SHIFT
    batch, read = _BATCH, 0
    while len(found) < want:
        if budget is not None and read >= budget:
            return found, False
        edge = _nth_match(conn, ordered[0], below=bound, n=batch)
        # A window starts at an item's first possible rowid, so no item is split between two.
        start = 0 if edge is None else (edge >> _ITEM_SHIFT) << _ITEM_SHIFT
        window = _window(ordered, conditions, start, bound).limit(want - len(found))
        found.extend(conn.execute(window).scalars())
        if edge is None or start == 0:
            break
        bound, read = start, read + batch
        batch = min(batch * 2, _MAX_BATCH)
    return found[:want], True


def sqlite_count(conn: Connection, *, term: Term, cap: int) -> int:
    """Items holding one term, counted up to ``cap`` in a single early-stopping pass."""
    item = _fts.c.rowid.op(">>")(_ITEM_SHIFT)
    distinct = select(item).where(_match(term, 0)).distinct().limit(cap).subquery()
    return int(conn.execute(select(func.count()).select_from(distinct)).scalar_one())


def _match(term: Term, index: int) -> ColumnElement[bool]:
    return _fts.c.itemDataValue.op("MATCH")(bindparam(f"fts_{index}", sqlite_query(term)))


def _nth_match(conn: Connection, term: Term, *, below: int, n: int) -> int | None:
    """The rowid of the ``n``-th row below ``below`` holding ``term`` (None: fewer rows)."""
    found = conn.execute(
        select(_fts.c.rowid)
        .where(_match(term, 0), _fts.c.rowid < bindparam("fts_below", below, type_=Integer))
        .order_by(_fts.c.rowid.desc())
        .limit(1)
        .offset(n - 1)
    ).scalar()
    return None if found is None else int(found)


def _window(
    terms: list[Term], conditions: list[ColumnElement[bool]], start: int, bound: int
) -> Any:
    """The items, newest first, with a row per term in ``[start, bound)`` meeting conditions."""
    item = _fts.c.rowid.op(">>")(_ITEM_SHIFT).label("item")
    parts = [
        select(item).where(_match(term, index), _fts.c.rowid >= start, _fts.c.rowid < bound)
        for index, term in enumerate(terms)
    ]
    matched = (intersect(*parts) if len(parts) > 1 else parts[0].distinct()).subquery()
    if conditions:
        return (
            select(items.c.itemId)
            .where(items.c.itemId.in_(select(matched.c.item)), *conditions)
            .order_by(items.c.itemId.desc())
        )
    return select(matched.c.item).order_by(matched.c.item.desc())


def _rarest_first(conn: Connection, terms: list[Term]) -> list[Term]:
    """The terms ordered by how many rows hold them (FTS5 counts a term's rows cheaply)."""
    counted = []
    for term in terms:
        sample = select(_fts.c.rowid).where(_match(term, 0)).limit(_RARITY_CAP).subquery()
        count = conn.execute(select(func.count()).select_from(sample)).scalar_one()
        counted.append((int(count), term))
    return [term for _count, term in sorted(counted, key=lambda pair: pair[0])]
