"""Request bodies are parsed as strict JSON: UTF-8 text, no NaN or Infinity, at most 64 levels deep, each key once
per object, no unpaired surrogate escapes.

FastAPI parses a JSON body with `json.loads`, which accepts `NaN`, `Infinity` and `-Infinity` (not JSON)
and fails with a generic 400 ("There was an error parsing the body", type `http_error`) on a body that is
not UTF-8 or nests deeper than Python's recursion limit. Every route of the service uses `StrictJSONRoute`
instead, whose request parses the body here and reports every such body as a JSON decode error, which
`service.errors` answers with 400 `malformed_json` naming the problem. The depth limit is the one the
store enforces on stored documents (`engine.store.types.MAX_JSON_DEPTH`), so a document the service
accepts can always be stored and written back. `json.loads` also keeps the last of two equal keys (`{"correct": 1,
"correct": 0}` would store 0 without a word) and turns an escape like `\udc00` into text that is not Unicode, which
no database or response can encode (a 500 after the commit); both are refused here, before anything is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from engine.store.types import MAX_JSON_DEPTH


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (JSON numbers are finite)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object from its `pairs`, refusing a key given twice (json.loads would keep the last silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {_brief(key)} appears twice in one object; send each field once")
            seen.add(key)
    return obj


def _brief(text: str) -> str:
    shown = ascii(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _not_unicode(value: Any) -> str | None:
    """The first key or text in `value` that holds an unpaired surrogate (not Unicode, so not storable), else None."""
    stack = [value]
    while stack:
        node = stack.pop()
        texts = node.keys() if type(node) is dict else (node,) if type(node) is str else ()
        for text in texts:
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    return text
        if type(node) is dict:
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return None


def _too_deep(value: Any, limit: int) -> bool:
    """Whether `value` nests arrays and objects more than `limit` levels deep (the top level is level 1);
    one level at a time, so a wide, flat batch costs one pass over its containers."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        deeper = []
        for node in level:
            for child in (node.values() if type(node) is dict else node):
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        level, depth = deeper, depth + 1
    return False


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The document in `body`; `json.JSONDecodeError` (with a message a client can act on) for anything that
    is not strict JSON text of at most `max_depth` levels."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"the body is not UTF-8 text (byte {exc.start}); send JSON encoded as UTF-8",
                                   body.decode("utf-8", "replace"), exc.start) from None
    try:
        value = json.loads(text, parse_constant=_not_json, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels; flatten it", text, 0) from None
    except ValueError as exc:  # NaN / Infinity, a key given twice, or a number of more than 4300 digits
        raise json.JSONDecodeError(str(exc).split("; use sys.set_int_max_str_digits")[0], text, 0) from None
    if isinstance(value, (dict, list)) and _too_deep(value, max_depth):
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels; flatten it", text, 0)
    bad = _not_unicode(value)
    if bad is not None:
        raise json.JSONDecodeError(f"the text {_brief(bad)} holds an unpaired UTF-16 surrogate escape, which is not a "
                                   "Unicode character; send valid Unicode text", text, 0)
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An `APIRoute` whose handler sees a `StrictJSONRequest` (FastAPI's documented way to change body parsing)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
