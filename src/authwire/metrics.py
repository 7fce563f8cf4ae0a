"""Prometheus metrics, one registry per running service (so that tests can
start several services in one process without clashing)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


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
        labels = ["application_id", "account_id"]
        self.token_expiry = Gauge(
            "authwire_token_expires_at_seconds",
            "When each account's access token expires (Unix time).",
            labels,
            registry=self.registry,
        )
        self.token_last_refresh = Gauge(
            "authwire_token_last_refresh_timestamp_seconds",
            "When each account's token was last renewed (Unix time; 0 if never).",
            labels,
            registry=self.registry,
        )
        self.token_refreshes = Gauge(
            "authwire_token_refresh_count",
            "Renewals of each account's token since it was granted.",
            labels,
            registry=self.registry,
        )
        self.token_failures = Gauge(
            "authwire_token_refresh_failures",
            "Transient refresh failures in a row, per account (0 when healthy).",
            labels,
            registry=self.registry,
        )
        self.account_needs_reauthorization = Gauge(
            "authwire_auth_account_needs_reauthorization",
            "1 for each account that needs a new Generate, 0 otherwise.",
            labels,
            registry=self.registry,
        )
        self.calls = Counter(
            "authwire_web_service_calls",
            "Calls of web service methods, by source and success.",
            ["source", "success"],
            registry=self.registry,
        )
        self.call_duration = Histogram(
            "authwire_web_service_call_duration_seconds",
            "How long calls of web service methods took, retries included.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
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
