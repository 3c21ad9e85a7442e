"""A number for each call the bridge makes to Wati or Slack, in the order the calls start.

Answers come back in another order than their calls went out: a call that began before the
token was revoked can answer "ok" after one that began later was refused. Health compares
these numbers so that such a late answer does not end a condition a newer call found.
"""

from __future__ import annotations

import itertools

_numbers = itertools.count(1)


def next_number() -> int:
    """The next call's number (thread-safe: `itertools.count` steps under the GIL)."""
    return next(_numbers)
