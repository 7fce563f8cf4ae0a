"""Building the URL that sends the admin's browser to the provider.

The admin may write extra parameters into the authorization endpoint
(`login_hint`, `include_granted_scopes`, even `prompt`); those are kept. The
parameters that carry the flow's security and identity are always Authwire's
and replace any written into the endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Always Authwire's, whatever the endpoint says. `scope` is here too: the
# account's scope field is what Authwire asks for and checks on return.
FLOW_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

# Authwire's defaults, which an admin may override in the endpoint URL.
DEFAULTED_PARAMETERS = ("access_type", "prompt", "origin")


def build_authorization_url(
    endpoint: str,
    flow: Mapping[str, str],
    defaults: Mapping[str, str],
) -> str:
    parts = urlsplit(endpoint)
    written = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(key, value) for key, value in written if key not in FLOW_PARAMETERS]
    written_keys = {key for key, _ in kept}
    query = kept
    query += [(k, v) for k, v in defaults.items() if k not in written_keys]
    query += [(k, v) for k, v in flow.items() if v != ""]
    encoded = urlencode(query, quote_via=quote, safe="")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, encoded, ""))
