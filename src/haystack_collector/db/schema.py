"""The Peregrin item graph as SQLAlchemy Core tables.

Table and column names are the original Peregrin/Haystack MariaDB schema's, so an existing
database upgrades in place (see ``db/migrations``). Columns the original did not have are
marked "haystack:" below; this module must always equal the schema the migrations build,
which a test checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

# Microsecond precision everywhere: the queue orders and leases by these.
Timestamp: TypeEngine[Any] = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# MariaDB's TEXT stops at 64 KiB; scraped bodies are longer and must never be cut.
LongText: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

# Limits the store checks before the database would (silently, on a lax MariaDB) truncate.
ENGINE_NAME_MAX = 100
ENGINE_VERSION_MAX = 20
ACTION_NAME_MAX = 100
DATA_KEY_MAX = 100
CONFIG_NAME_MAX = 100
LINK_TYPE_MAX = 50
URI_MAX = 16_000  # far beyond any real URL, below TEXT's 64 KiB in 4-byte characters
CLAIM_OWNER_MAX = 100
ORIGIN_MAX = 16  # ItemOrigin, itemEventOrigin: "api" or NULL
ITEM_STATE_MAX = 10  # ItemState: see store.item_state

metadata = MetaData()

engines = Table(
    "Engines",
    metadata,
    Column("EngineId", Integer, primary_key=True),
    Column("EngineName", String(ENGINE_NAME_MAX), nullable=False),
    Column("EngineVersion", String(ENGINE_VERSION_MAX), nullable=False),
    Column("EngineDesc", Text),
    Column("EngineDisabled", Boolean, nullable=False, server_default=false()),
    Column("EngineCreated", Timestamp),
    UniqueConstraint("EngineName", "EngineVersion", name="uq_Engines_name_version"),
)

actions = Table(
    "Actions",
    metadata,
    Column("actionId", Integer, primary_key=True),
    Column("actionName", String(ACTION_NAME_MAX), nullable=False),
    Column("actionDesc", Text),
    Column("actionCreated", Timestamp),
    UniqueConstraint("actionName", name="uq_Actions_actionName"),
)

engine_actions = Table(
    "EngineActions",
    metadata,
    Column("engineActionId", Integer, primary_key=True),
    Column("engineId", Integer, ForeignKey("Engines.EngineId"), nullable=False),
    Column("actionId", Integer, ForeignKey("Actions.actionId"), nullable=False),
    Column("actionFunction", String(100)),
    Column("actionParams", Text),
    Column("engineActionDisabled", Boolean, nullable=False, server_default=false()),
    Column("engineActionCreated", Timestamp),
    # haystack: one row per (engine, action) so registration is an idempotent upsert.
    Index("ux_EngineActions_engine_action", "engineId", "actionId", unique=True),
)

items = Table(
    "Items",
    metadata,
    Column("itemId", Integer, primary_key=True),
    Column("ItemURI", Text, nullable=False),
    Column("EngineId", Integer, ForeignKey("Engines.EngineId")),
    Column("ItemDTS", Timestamp),
    Column("itemCreated", Timestamp),
    # haystack: SHA-256 of ItemURI; TEXT cannot carry a unique index on MariaDB. NULL only on
    # rows a legacy database held twice (those are linked to the kept row as 'duplicate').
    Column("ItemURIHash", String(64)),
    # haystack: "api" for an item written through the admin API (its URI was typed by a token
    # holder, so fetching it runs with the SSRF guard on); NULL otherwise. See ``origin``.
    Column("ItemOrigin", String(ORIGIN_MAX)),
    # haystack: fetched, queued, failed or gone (see ``store.item_state``), kept by the store
    # as items, data and events are written; a row the original code inserts starts queued.
    Column("ItemState", String(ITEM_STATE_MAX), nullable=False, server_default="queued"),
    Index("ux_Items_ItemURIHash", "ItemURIHash", unique=True),
    # The item list in one state, newest first, read in index order (query.list_page).
    Index("ix_Items_ItemState", "ItemState", "itemId"),
    Index("ix_Items_EngineId", "EngineId"),
    Index("ix_Items_itemCreated", "itemCreated"),
)

item_data = Table(
    "ItemData",
    metadata,
    Column("ItemDataId", Integer, primary_key=True),
    Column("itemId", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("itemData", String(DATA_KEY_MAX), nullable=False),
    Column("itemDataValue", LongText),
    Column("itemDataSeq", Integer, nullable=False, server_default="0"),
    Column("itemDataAdded", Timestamp),
    # haystack: how to read the text back (str, int, float, bool, datetime, date, json);
    # NULL on legacy rows, which read back as str.
    Column("itemDataType", String(10)),
    Index("ix_ItemData_item_key_seq", "itemId", "itemData", "itemDataSeq"),
    Index("ix_ItemData_key", "itemData"),
)

item_events = Table(
    "ItemEvents",
    metadata,
    Column("ItemEventId", Integer, primary_key=True),
    Column("engineId", Integer, ForeignKey("Engines.EngineId"), nullable=False),
    Column("actionId", Integer, ForeignKey("Actions.actionId"), nullable=False),
    Column("itemId", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("itemEventAddedDate", Timestamp),
    # haystack: the correlation id of the work that queued it; the worker runs it under the
    # same id, so one request's log lines follow its work through every follow-up event.
    Column("itemEventCorrelationId", String(64)),
    # haystack: "api" when the work that queued it came through the API (see ``origin``);
    # the worker runs it with the SSRF guard on, and its follow-ups inherit the origin.
    Column("itemEventOrigin", String(ORIGIN_MAX)),
    Column("itemEventDate", Timestamp, nullable=True),  # NULL while pending
    # haystack: the queue's bookkeeping.
    Column("itemEventRunAfter", Timestamp),  # not due before this (backoff); NULL = now
    Column("itemEventClaimedBy", String(CLAIM_OWNER_MAX)),  # worker holding the lease
    Column("itemEventLeaseUntil", Timestamp),  # lease expiry; claimable again after it
    Column("itemEventAttempts", Integer, nullable=False, server_default="0"),
    Column("itemEventLastError", LongText),
    Column("itemEventDeadDate", Timestamp),  # set when attempts ran out; retryable by hand
    Index("ux_ItemEvents_engine_action_item", "engineId", "actionId", "itemId", unique=True),
    Index(
        "ix_ItemEvents_due",
        "itemEventDate",
        "itemEventDeadDate",
        "engineId",
        "actionId",
        "itemEventRunAfter",
    ),
    Index("ix_ItemEvents_itemId", "itemId"),
)

link_types = Table(
    "LinkTypes",
    metadata,
    Column("LinkTypeId", Integer, primary_key=True),
    Column("LinkTypeName", String(LINK_TYPE_MAX), nullable=False),
    Column("LinkTypeDesc", Text),
    UniqueConstraint("LinkTypeName", name="uq_LinkTypes_name"),
)

item_links = Table(
    "ItemLinks",
    metadata,
    Column("itemLinkId", Integer, primary_key=True),
    Column("EngineId", Integer, ForeignKey("Engines.EngineId")),
    Column("itemId_left", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("itemId_right", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("linkTypeId", Integer, ForeignKey("LinkTypes.LinkTypeId"), nullable=False),
    Column("itemLinkDTS", Timestamp),
    # haystack: a link is stated once, so re-running a handler adds nothing.
    Index("ux_ItemLinks_left_right_type", "itemId_left", "itemId_right", "linkTypeId", unique=True),
    Index("ix_ItemLinks_right", "itemId_right"),
)

status = Table(
    "Status",
    metadata,
    Column("statusId", Integer, primary_key=True),
    Column("engineId", Integer, ForeignKey("Engines.EngineId")),
    Column("actionId", Integer, ForeignKey("Actions.actionId")),
    Column("StatusMessage", LongText),
    Column("StatusDate", Timestamp),
    Index("ix_Status_StatusDate", "StatusDate"),
)

config = Table(
    "Config",
    metadata,
    Column("configId", Integer, primary_key=True),
    Column("configName", String(CONFIG_NAME_MAX), nullable=False),
    Column("configValue", Text),
    Column("configUpdated", Timestamp),
    UniqueConstraint("configName", name="uq_Config_configName"),
)

PEREGRIN_TABLES: tuple[Table, ...] = (
    engines,
    actions,
    engine_actions,
    items,
    item_data,
    item_events,
    link_types,
    item_links,
    status,
    config,
)

# Seeded by migration 0002 (which owns all seed rows); the store writes config changes as it.
SYSTEM_ENGINE = ("SystemEngine", "1.0", "Haystack itself: configuration and status")

# --- haystack's own tables (migration 0003 onwards) ---------------------------------------

SCHEDULE_NAME_MAX = 100
SCHEDULE_CRON_MAX = 100

schedules = Table(
    "Schedules",
    metadata,
    Column("scheduleId", Integer, primary_key=True),
    Column("engineId", Integer, ForeignKey("Engines.EngineId"), nullable=False),
    Column("scheduleName", String(SCHEDULE_NAME_MAX), nullable=False),
    Column("scheduleInterval", Integer),  # seconds; exactly one of interval and cron is set
    Column("scheduleCron", String(SCHEDULE_CRON_MAX)),  # a cron expression, read in UTC
    Column("scheduleSettings", Text),  # JSON object: the engine's settings for these runs
    Column("scheduleEnabled", Boolean, nullable=False, server_default=true()),
    Column("scheduleNextRun", Timestamp, nullable=False),  # the next due time (claim key)
    Column("scheduleLastRun", Timestamp),  # the due time of the last claimed run
    Column("scheduleLeaseOwner", String(CLAIM_OWNER_MAX)),  # the scheduler that claimed it
    Column("scheduleLeaseUntil", Timestamp),  # reserved for a lease-based claim; unused yet
    Column("scheduleMissedPolicy", String(10), nullable=False, server_default="once"),
    Column("scheduleCreated", Timestamp),
    UniqueConstraint("scheduleName", name="uq_Schedules_scheduleName"),
    Index("ix_Schedules_due", "scheduleEnabled", "scheduleNextRun"),
)

TOKEN_NAME_MAX = 100
RUN_STATES = ("queued", "running", "done", "failed", "cancelled")

# API bearer tokens: only a SHA-256 of each token is kept, so a leaked table grants nothing.
api_tokens = Table(
    "ApiTokens",
    metadata,
    Column("tokenId", Integer, primary_key=True),
    Column("tokenName", String(TOKEN_NAME_MAX), nullable=False),
    Column("tokenHash", String(64), nullable=False),  # hex SHA-256 of the secret
    Column("tokenCreated", Timestamp, nullable=False),
    Column("tokenLastUsed", Timestamp),
    Column("tokenRevoked", Timestamp),  # set: the token no longer authenticates
    UniqueConstraint("tokenName", name="uq_ApiTokens_tokenName"),
    UniqueConstraint("tokenHash", name="uq_ApiTokens_tokenHash"),
)

# Work requested through the API (start an engine, run an action with parameters): queued here,
# run by a worker's run executor, its progress and outcome kept for GET /api/runs/{id}.
runs = Table(
    "Runs",
    metadata,
    Column("runId", Integer, primary_key=True),
    Column("engineId", Integer, ForeignKey("Engines.EngineId"), nullable=False),
    Column("runAction", String(ACTION_NAME_MAX)),  # None: every start action of the engine
    Column("runSettings", Text),  # JSON object: the engine's settings for this run
    Column("runState", String(20), nullable=False, server_default="queued"),  # RUN_STATES
    Column("runCreated", Timestamp, nullable=False),
    Column("runStarted", Timestamp),
    Column("runFinished", Timestamp),
    Column("runClaimedBy", String(CLAIM_OWNER_MAX)),
    Column("runLeaseUntil", Timestamp),
    Column("runItemsStored", Integer, nullable=False, server_default="0"),
    Column("runEventsEnqueued", Integer, nullable=False, server_default="0"),
    Column("runError", Text),
    Column("runCorrelationId", String(64)),  # the request that asked for it, for the logs
    Column("runRequestedBy", String(TOKEN_NAME_MAX)),  # the token's name
    Index("ix_Runs_state", "runState", "runCreated"),
)

# Worker heartbeats: who is working, since when, last seen (health and the dashboard).
workers = Table(
    "Workers",
    metadata,
    Column("workerId", Integer, primary_key=True),
    Column("workerOwner", String(CLAIM_OWNER_MAX), nullable=False),  # host:pid:token
    Column("workerHost", String(255)),
    Column("workerPid", Integer),
    Column("workerEngines", Text),  # JSON list of engine names, None for all
    Column("workerState", String(20), nullable=False, server_default="running"),
    Column("workerStarted", Timestamp, nullable=False),
    Column("workerSeen", Timestamp, nullable=False),
    Column("workerFinished", Integer, nullable=False, server_default="0"),  # tasks finished
    Column("workerFailed", Integer, nullable=False, server_default="0"),
    Column("workerStats", Text),  # JSON: the worker's latest counters and per-host fetch state
    UniqueConstraint("workerOwner", name="uq_Workers_workerOwner"),
    Index("ix_Workers_seen", "workerSeen"),
)

# The postings board (store.postings): a job posting is one ``JobFingerprint`` however many
# items carry it, so its status is kept per fingerprint, apart from the items, and survives
# their re-extraction. A posting without a row here is "new".
FINGERPRINT_MAX = 64
POSTING_STATUS_MAX = 20

posting_status = Table(
    "PostingStatus",
    metadata,
    Column("postingStatusId", Integer, primary_key=True),
    Column("postingFingerprint", String(FINGERPRINT_MAX), nullable=False),
    Column("postingStatus", String(POSTING_STATUS_MAX), nullable=False),  # POSTING_STATUSES
    Column("postingStatusChanged", Timestamp, nullable=False),
    UniqueConstraint("postingFingerprint", name="uq_PostingStatus_postingFingerprint"),
    Index("ix_PostingStatus_status", "postingStatus"),
)

# Every change of a posting's status, with its time, an optional note and who made it.
posting_history = Table(
    "PostingHistory",
    metadata,
    Column("postingHistoryId", Integer, primary_key=True),
    Column("postingFingerprint", String(FINGERPRINT_MAX), nullable=False),
    Column("postingStatus", String(POSTING_STATUS_MAX), nullable=False),
    Column("postingHistoryDate", Timestamp, nullable=False),
    Column("postingHistoryNote", Text),
    Column("postingHistoryBy", String(TOKEN_NAME_MAX)),  # the token's name, or "cli"
    Index("ix_PostingHistory_fingerprint", "postingFingerprint", "postingHistoryId"),
)

VISIT_OUTCOME_MAX = 16

# An item's earlier values (migration 0011, see ``store.versions``): ItemData always holds the
# current values, which are version max(version) + 1 (1 when the item has no row here). A row
# is written only when an existing item's meaning changed, never on its first store.
item_versions = Table(
    "ItemVersions",
    metadata,
    Column("versionId", Integer, primary_key=True, autoincrement=True),
    Column("itemId", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, 3... per item
    Column("validFrom", Timestamp),  # when this version was first stored; NULL: unknown
    Column("validTo", Timestamp, nullable=False),  # when it was replaced (the change)
    Column("versionData", LongText),  # JSON: key -> typed values (store.versions)
    Column("versionText", LongText),  # the page's main text at this version, when kept
    Column("versionDigest", String(64)),  # SHA-256 of the normalized meaning
    UniqueConstraint("itemId", "version", name="uq_ItemVersions_item_version"),
    Index("ix_ItemVersions_versionId", "versionId"),  # readers scanning new rows by cursor
    Index("ix_ItemVersions_validTo", "validTo"),  # retention by age
)

# Re-visits of collected items and what each found (written by the re-visit scheduler).
item_visits = Table(
    "ItemVisits",
    metadata,
    Column("visitId", Integer, primary_key=True, autoincrement=True),
    Column("itemId", Integer, ForeignKey("Items.itemId"), nullable=False),
    Column("engineId", Integer, ForeignKey("Engines.EngineId")),
    Column("visitDate", Timestamp, nullable=False),
    Column("visitOutcome", String(VISIT_OUTCOME_MAX), nullable=False),  # unchanged/changed/gone
    Column("visitStatus", Integer),  # the HTTP status, when there was one
    Index("ix_ItemVisits_item_date", "itemId", "visitDate"),
    Index("ix_ItemVisits_outcome", "visitOutcome", "visitId"),
)


# --- watches and their notifications (migration 0012) -------------------------------------

WATCH_NAME_MAX = 100
NOTIFY_EVENT_MAX = 40
NOTIFY_STATES = ("pending", "sending", "sent", "failed", "uncertain")

# A saved filter over the items (and postings) plus what to tell, and where (Apprise URLs).
watches = Table(
    "Watches",
    metadata,
    Column("watchId", Integer, primary_key=True),
    Column("watchName", String(WATCH_NAME_MAX), nullable=False),
    Column("watchFilter", Text, nullable=False),  # JSON: see watch.model.WatchFilter
    Column("watchEvents", String(40), nullable=False),  # comma-separated: new,changed,gone
    Column("watchVolatile", Text),  # JSON: the volatile rules a change is judged with
    Column("watchChannels", Text, nullable=False),  # JSON list of Apprise URLs (secret)
    Column("watchAlerts", Boolean, nullable=False, server_default=false()),  # system alerts too
    Column("watchEnabled", Boolean, nullable=False, server_default=true()),
    Column("watchCreated", Timestamp, nullable=False),
    Column("watchUpdated", Timestamp),
    # How far the evaluation has read: the newest item, version and visit it looked at.
    Column("watchLastItemId", Integer, nullable=False, server_default="0"),
    Column("watchLastVersionId", Integer, nullable=False, server_default="0"),
    Column("watchLastVisitId", Integer, nullable=False, server_default="0"),
    Column("watchLastDigest", Timestamp),  # when its last digest went out (digest interval)
    UniqueConstraint("watchName", name="uq_Watches_watchName"),
)

# The outbox: each notification recorded before it is sent, once per (watch, item, event,
# item version). Item 0 with an "alert:..." event is a system alert; its version is the id of
# what raised it (a run, an event, a breaker's opening).
notifications = Table(
    "Notifications",
    metadata,
    Column("notificationId", Integer, primary_key=True),
    Column("watchId", Integer, ForeignKey("Watches.watchId"), nullable=False),
    Column("itemId", Integer, nullable=False),  # no foreign key: a gone item may be deleted
    Column("notifyEvent", String(NOTIFY_EVENT_MAX), nullable=False),
    Column("itemVersion", Integer, nullable=False),
    Column("notifyStatus", String(12), nullable=False, server_default="pending"),
    Column("notifyDetail", LongText),  # JSON: what the message says (title, link, fields, diff)
    Column("notifyCreated", Timestamp, nullable=False),
    Column("notifyAttempts", Integer, nullable=False, server_default="0"),
    Column("notifyNextAttempt", Timestamp),  # not before this (backoff); NULL = now
    Column("notifyClaimedBy", String(CLAIM_OWNER_MAX)),
    Column("notifyClaimedAt", Timestamp),
    Column("notifySent", Timestamp),
    Column("notifyChannelsDone", Text),  # JSON list of channel indexes already delivered
    Column("notifyError", Text),  # masked
    UniqueConstraint(
        "watchId", "itemId", "notifyEvent", "itemVersion", name="uq_Notifications_once"
    ),
    Index("ix_Notifications_status", "notifyStatus", "watchId", "notificationId"),
)

# Tables Haystack added beyond the Peregrin schema; not part of the admin whitelist above.
HAYSTACK_TABLES: tuple[Table, ...] = (
    schedules,
    api_tokens,
    runs,
    workers,
    posting_status,
    posting_history,
    item_versions,
    item_visits,
    watches,
    notifications,
)
