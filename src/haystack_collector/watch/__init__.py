"""Watches: saved filters that notify through Apprise channels (see docs/watching.md).

``model`` checks what a watch is, ``evaluate`` finds what happened to its items and records it
in the outbox, ``messages`` writes the digests, ``channels`` sends through Apprise, ``deliver``
works through the outbox, ``alerts`` raises system alerts, and ``notifier`` is the runtime part
that runs the rest.
"""
