"""The protected resource: what Authwire ends up calling with the tokens it keeps.

Token checks are django-oauth-toolkit's own (the RFC 9728 flavour of its protected
resource view), so an expired, revoked or unknown token is refused exactly as DOT
refuses it: 401 with a ``WWW-Authenticate: Bearer`` challenge.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import ProtectedResourceMetadataView


class BearerProtectedView(ProtectedResourceMetadataView):
    """Keeps hold of the access token DOT validated, to report what it grants."""

    def verify_request(self, request: HttpRequest) -> tuple[bool, Any]:
        valid, oauthlib_request = super().verify_request(request)
        self.access_token = getattr(oauthlib_request, "access_token", None)
        return valid, oauthlib_request

    def token_facts(self) -> dict[str, Any]:
        token = self.access_token
        user = token.user
        return {
            "user": user.get_username() if user is not None else None,
            "client_id": token.application.client_id,
            "scope": token.scope,
        }


class MeView(BearerProtectedView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(self.token_facts())


@method_decorator(csrf_exempt, name="dispatch")
class EchoView(BearerProtectedView):
    """Echoes a call back, so tests see exactly what Authwire sent upstream."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def echo(self, request: HttpRequest) -> HttpResponse:
        body: Any = None
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                return JsonResponse(
                    {"error": "invalid_json", "error_description": "Body is not JSON."},
                    status=400,
                )
        return JsonResponse(
            {
                **self.token_facts(),
                "method": request.method,
                "query": {key: values for key, values in request.GET.lists()},
                "json": body,
            }
        )

    get = post = put = patch = delete = echo
