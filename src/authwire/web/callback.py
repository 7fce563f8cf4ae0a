"""GET /oauth/callback: where providers send the browser back after consent.

It is the one page open without signing in: the state it carries is its
credential (see authwire.oauth.flow).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from authwire.accounts.presets import endpoints_for
from authwire.errors import OAuthError, TokenEndpointUnavailableError
from authwire.oauth.flow import complete_authorization
from authwire.web.deps import RuntimeDep, SessionDep

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# The URL carries a code and a state: keep it out of caches and referrers.
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/oauth/callback", response_class=HTMLResponse)
async def oauth_callback(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    params = dict(request.query_params)
    try:
        account = await complete_authorization(session, runtime, params)
    except OAuthError as exc:
        status = 502 if isinstance(exc, TokenEndpointUnavailableError) else 400
        return templates.TemplateResponse(
            request,
            "callback.html",
            {"ok": False, "message": exc.message, "code": exc.code},
            status_code=status,
            headers=_PRIVATE_HEADERS,
        )
    token = account.token_set
    assert token is not None
    return templates.TemplateResponse(
        request,
        "callback.html",
        {
            "ok": True,
            "account": account,
            "token": token,
            "provider": endpoints_for(account).authorization_endpoint,
        },
        headers=_PRIVATE_HEADERS,
    )
