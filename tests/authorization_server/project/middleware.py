"""Observation of the token endpoint, for tests that reason about Authwire's traffic.

Tests assert how often Authwire asked for tokens (one refresh, not two, when two
calls race) and need a slow token endpoint to make such races likely. Both happen
here, in front of django-oauth-toolkit's own view, which stays untouched.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from . import state

UNKNOWN_CLIENT = "<unknown>"


def client_id_of(request: HttpRequest) -> str:
    """The client a token request speaks for, however the client authenticated.

    RFC 6749 section 2.3.1 lets a client send its id in HTTP Basic credentials
    (form-encoded, then base64) or as ``client_id`` in the body; public clients and
    some confidential ones send it in the body even with Basic.
    """
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, separator, _ = decoded.partition(":")
        if separator:
            return unquote_plus(user)
    return request.POST.get("client_id") or UNKNOWN_CLIENT


class TokenEndpointObserver:
    """Counts token requests per client and grant type, and applies the delay."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.token_path = reverse("oauth2_provider:token")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == self.token_path:
            grant_type = request.POST.get("grant_type") or "<none>"
            state.record_token_request(client_id_of(request), grant_type)
            delay = state.token_delay()
            if delay > 0:
                # Each request runs in its own thread under Django's ASGI handler,
                # so this slows this request down without stalling the others.
                time.sleep(delay)
        return self.get_response(request)
