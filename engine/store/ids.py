"""Ids that stand in URL paths: students (`/v1/students/{id}/...`, `/app/students/{id}`) and classes
(`/app/classes/{id}`).

A path decodes `%2F` to `/` before routing, so a student stored as `a/b` could never be read back; `.` and `..` are
rewritten by every client that normalises paths; control characters (a newline, a right-to-left override) and
surrounding spaces make two ids that look the same on a page and in a log but are different students. The store
therefore refuses such ids when they first arrive, naming the row, instead of keeping data that no route can reach.
"""

from __future__ import annotations

import re

from engine.store.schema import ID_LENGTH

# C0 and C1 control characters, and the bidirectional embeddings, overrides and isolates (text that displays
# in another order than it is stored)
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def path_id_problem(value: object) -> str | None:
    """Why `value` cannot be a student or class id, as a clause ("must ..."), or None when it can."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > ID_LENGTH:
        return f"is longer than {ID_LENGTH} characters"
    if _INVISIBLE.search(value):
        return "must not contain control characters (NUL, newline, tab, ...) or bidirectional overrides"
    if "/" in value:
        return "must not contain '/' (ids stand in URL paths; use another separator such as ':' or '-')"
    if value in (".", ".."):
        return "must not be '.' or '..' (clients rewrite them in URL paths)"
    if value.strip() != value:
        return "must not begin or end with spaces"
    return None
