"""Prometheus metrics: requests and latency by method, route template and status.

Each app has its own registry, so several apps in one process (tests) never
collide. Unmatched paths are counted under one label to bound cardinality.
"""

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "codecorpus_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "codecorpus_http_request_duration_seconds",
            "Time to answer an HTTP request (until the body is sent), by route template.",
            ("method", "route"),
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MetricsMiddleware:
    """Pure ASGI, so streamed downloads are timed to their last byte."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    @staticmethod
    def template(scope: Scope) -> str:
        """The matched route's full path template. A route may know its path without the
        prefix it was included under, so that prefix is recovered from the request path."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            return UNMATCHED
        params = {k: str(v) for k, v in scope.get("path_params", {}).items()}
        try:
            rendered = getattr(route, "path_format", path).format(**params)
        except (KeyError, IndexError, ValueError):
            return path
        actual = scope.get("path", "")
        if rendered and actual.endswith(rendered):
            return actual[: len(actual) - len(rendered)] + path
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(scope["method"], self.template(scope), status, seconds)
