"""Prometheus metrics, one registry per running service (so that tests can
start several services in one process without clashing)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.authorizations = Counter(
            "authwire_authorizations",
            "Completed authorization-code flows, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.token_requests = Counter(
            "authwire_token_endpoint_requests",
            "Requests to providers' token endpoints, by grant and outcome.",
            ["grant_type", "outcome"],
            registry=self.registry,
        )
        self.accounts = Gauge(
            "authwire_auth_accounts",
            "Auth accounts, by kind and status (read at scrape time).",
            ["kind", "status"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "authwire_http_requests",
            "Requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
