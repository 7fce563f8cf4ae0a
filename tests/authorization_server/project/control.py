"""Test-only control API: arrange the server's state from the pytest process.

A real provider is arranged by a person in a web console; tests need the same
effects (a user, a registered client, revoked access) in one HTTP call each. The
server only ever listens on 127.0.0.1, hence no CSRF and no authentication here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from . import state

View = Callable[..., HttpResponse]


class BadRequest(Exception):
    """A control call the test got wrong; answered with 400 and the reason."""


def control_endpoint(view: View) -> View:
    """JSON in, JSON out, and a 400 with the reason instead of a 500."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return JsonResponse({"error": str(error)}, status=400)

    return wrapper


def json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError as error:
        raise BadRequest("body is not JSON") from error
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def number_field(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest(f"{name} must be a non-negative number")
    return value


@control_endpoint
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@control_endpoint
@require_POST
def create_user(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise BadRequest("username must be a non-empty string")
    if not isinstance(password, str) or not password:
        raise BadRequest("password must be a non-empty string")
    users = get_user_model().objects
    if users.filter(username=username).exists():
        return JsonResponse({"error": "user exists"}, status=409)
    users.create_user(username=username, password=password)
    return JsonResponse({"username": username}, status=201)


def register_application(**fields: Any) -> HttpResponse:
    """Registers a confidential client and answers with its plaintext secret.

    DOT replaces the secret by its hash when the application is saved, so the
    plaintext is generated here and kept aside before the save.
    """
    secret = generate_client_secret()
    application = get_application_model()(
        client_type=get_application_model().CLIENT_CONFIDENTIAL,
        client_secret=secret,
        hash_client_secret=True,
        **fields,
    )
    try:
        # The validation DOT's own registration form applies, e.g. redirect URIs.
        application.full_clean()
    except ValidationError as error:
        raise BadRequest("; ".join(error.messages)) from error
    application.save()
    return JsonResponse(
        {"client_id": application.client_id, "client_secret": secret}, status=201
    )


@control_endpoint
@require_POST
def create_client(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    redirect_uris = body.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or not all(isinstance(uri, str) and uri for uri in redirect_uris)
    ):
        raise BadRequest("redirect_uris must be a non-empty list of URIs")
    skip_authorization = body.get("skip_authorization", False)
    if not isinstance(skip_authorization, bool):
        raise BadRequest("skip_authorization must be a boolean")
    return register_application(
        name=str(body.get("name") or "Authwire test client"),
        authorization_grant_type=get_application_model().GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        skip_authorization=skip_authorization,
    )


@control_endpoint
@require_POST
def create_client_credentials_client(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    return register_application(
        name=str(body.get("name") or "Authwire test service client"),
        authorization_grant_type=get_application_model().GRANT_CLIENT_CREDENTIALS,
        redirect_uris="",
    )


@control_endpoint
@require_POST
def revoke_grants(request: HttpRequest, client_id: str) -> HttpResponse:
    """Takes back everything a client was ever granted.

    This is what a user's "remove access" button at a provider does: the tokens
    vanish, so the next refresh meets ``invalid_grant`` and API calls meet 401.
    """
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is None:
        return JsonResponse({"error": "unknown client"}, status=404)
    with transaction.atomic():
        refresh, _ = (
            get_refresh_token_model().objects.filter(application=application).delete()
        )
        access, _ = (
            get_access_token_model().objects.filter(application=application).delete()
        )
        grants, _ = get_grant_model().objects.filter(application=application).delete()
    return JsonResponse(
        {"refresh_tokens": refresh, "access_tokens": access, "grants": grants}
    )


@control_endpoint
def access_token_lifetime(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        seconds = number_field(json_body(request), "seconds")
        if seconds != int(seconds):
            raise BadRequest("seconds must be a whole number")
        state.set_access_token_lifetime(int(seconds))
    elif request.method != "GET":
        return JsonResponse({"error": "method not allowed"}, status=405)
    return JsonResponse({"seconds": state.access_token_lifetime()})


@control_endpoint
def token_delay(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        state.set_token_delay(float(number_field(json_body(request), "seconds")))
    elif request.method != "GET":
        return JsonResponse({"error": "method not allowed"}, status=405)
    return JsonResponse({"seconds": state.token_delay()})


@control_endpoint
@require_GET
def token_requests(request: HttpRequest) -> HttpResponse:
    client_id = request.GET.get("client_id")
    if client_id is None:
        return JsonResponse({"clients": state.all_token_requests()})
    return JsonResponse(
        {"client_id": client_id, "counts": state.token_requests(client_id)}
    )


@control_endpoint
@require_POST
def reset_token_requests(request: HttpRequest) -> HttpResponse:
    state.reset_token_requests()
    return JsonResponse({"clients": {}})
