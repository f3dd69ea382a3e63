"""Prometheus text metrics (no extra dependency): request counts and latency per route, domain counters."""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}  # bucket counts + [sum, count]
        self.counters: dict[str, float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            h = self.latency.setdefault((method, route), [0.0] * (len(BUCKETS) + 2))
            i = bisect.bisect_left(BUCKETS, seconds)
            if i < len(BUCKETS):
                h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def inc(self, name: str, value: float = 1.0) -> None:
        with self._lock:
            self.counters[name] += value

    def render(self, model_set: dict[str, Any] | None) -> str:
        lines = ["# HELP equilearn_http_requests_total HTTP requests by method, route template and status.",
                 "# TYPE equilearn_http_requests_total counter"]
        with self._lock:
            for (m, r, s), n in sorted(self.requests.items()):
                lines.append(f'equilearn_http_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}')
            lines += ["# HELP equilearn_http_request_duration_seconds Request latency.",
                      "# TYPE equilearn_http_request_duration_seconds histogram"]
            for (m, r), h in sorted(self.latency.items()):
                cumulative = 0.0
                for b, c in zip(BUCKETS, h[:len(BUCKETS)], strict=True):
                    cumulative += c
                    lines.append(f'equilearn_http_request_duration_seconds_bucket{{method="{m}",route="{r}",le="{b}"}} {int(cumulative)}')
                lines.append(f'equilearn_http_request_duration_seconds_bucket{{method="{m}",route="{r}",le="+Inf"}} {int(h[-1])}')
                lines.append(f'equilearn_http_request_duration_seconds_sum{{method="{m}",route="{r}"}} {h[-2]:.6f}')
                lines.append(f'equilearn_http_request_duration_seconds_count{{method="{m}",route="{r}"}} {int(h[-1])}')
            for name, v in sorted(self.counters.items()):
                lines += [f"# TYPE equilearn_{name} counter", f"equilearn_{name} {v:g}"]
        if model_set is not None:
            esc = {k: str(v).replace("\\", "\\\\").replace('"', '\\"') for k, v in model_set.items()}
            lines += ["# HELP equilearn_model_set_info The served model set (value 1).", "# TYPE equilearn_model_set_info gauge",
                      f'equilearn_model_set_info{{name="{esc["name"]}",version="{esc["version"]}",audit_status="{esc["audit_status"]}"}} 1']
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template (not the raw path: ids stay out)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)
