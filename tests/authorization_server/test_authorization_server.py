"""The harness is a real, working OAuth 2.0 server.

Driven from the client side with Authlib, independently of Authwire, so that when
an Authwire flow test fails the server is not the suspect.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from .harness import (
    AuthorizationFlowError,
    AuthorizationServer,
    Client,
    authorize_as_browser,
)

# Never contacted: the simulated browser stops at the redirect to it.
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
SCOPE = "read profile"


@dataclass
class User:
    username: str
    password: str


@dataclass
class Authorization:
    location: str
    state: str
    code_verifier: str

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.location).query)


@pytest.fixture
def server(authorization_server: AuthorizationServer) -> Iterator[AuthorizationServer]:
    yield authorization_server
    authorization_server.restore_defaults()


@pytest.fixture
def user(server: AuthorizationServer) -> User:
    created = User(f"alice-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    server.create_user(created.username, created.password)
    return created


@pytest.fixture
def registered(server: AuthorizationServer) -> Client:
    return server.create_client([REDIRECT_URI])


@pytest.fixture
def oauth(registered: Client) -> Iterator[OAuth2Client]:
    with oauth_client(registered) as session:
        yield session


def oauth_client(client: Client, **overrides: object) -> OAuth2Client:
    """An Authlib client as a web application would hold it: confidential, S256."""
    options: dict[str, object] = {
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "code_challenge_method": "S256",
        "trust_env": False,
        "timeout": 10,
    }
    options.update(overrides)
    return OAuth2Client(
        client_id=client.client_id, client_secret=client.client_secret, **options
    )


def authorize(
    server: AuthorizationServer, oauth: OAuth2Client, user: User, *, allow: bool = True
) -> Authorization:
    code_verifier = generate_token(64)
    url, state = oauth.create_authorization_url(
        server.authorization_endpoint, code_verifier=code_verifier
    )
    location = authorize_as_browser(url, user.username, user.password, allow=allow)
    return Authorization(location, state, code_verifier)


def exchange(
    server: AuthorizationServer, oauth: OAuth2Client, authorization: Authorization
) -> dict[str, object]:
    token: dict[str, object] = oauth.fetch_token(
        server.token_endpoint,
        authorization_response=authorization.location,
        state=authorization.state,
        code_verifier=authorization.code_verifier,
    )
    return token


def tokens_for(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> dict[str, object]:
    return exchange(server, oauth, authorize(server, oauth, user))


def call_api(server: AuthorizationServer, access_token: object) -> httpx2.Response:
    return httpx2.get(
        server.api_url,
        headers={"Authorization": f"Bearer {access_token}"},
        trust_env=False,
    )


def test_code_flow_with_login_and_consent_returns_tokens_with_a_refresh_token(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    authorization = authorize(server, oauth, user)

    assert authorization.location.startswith(REDIRECT_URI + "?")
    assert authorization.query["state"] == [authorization.state]
    assert authorization.query["iss"] == [server.issuer]  # RFC 9207
    token = exchange(server, oauth, authorization)

    assert token["token_type"] == "Bearer"
    assert token["access_token"]
    assert token["refresh_token"]
    assert token["scope"] == SCOPE
    assert token["expires_in"] == server.default_access_token_lifetime


def test_authorization_code_cannot_be_redeemed_without_its_code_verifier(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    authorization = authorize(server, oauth, user)

    with pytest.raises(OAuthError) as refused:
        oauth.fetch_token(
            server.token_endpoint,
            authorization_response=authorization.location,
            state=authorization.state,
            code_verifier=generate_token(64),
        )

    assert refused.value.error == "invalid_grant"


def test_authorization_request_without_pkce_is_refused(
    server: AuthorizationServer, registered: Client, user: User
) -> None:
    with oauth_client(registered, code_challenge_method=None) as plain:
        url, _ = plain.create_authorization_url(server.authorization_endpoint)

    location = authorize_as_browser(url, user.username, user.password)

    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"]
    assert "code" not in query


def test_refresh_rotates_the_refresh_token(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    first = tokens_for(server, oauth, user)

    second = oauth.refresh_token(
        server.token_endpoint, refresh_token=first["refresh_token"]
    )

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert call_api(server, second["access_token"]).status_code == 200
    with pytest.raises(OAuthError) as replay:
        oauth.refresh_token(server.token_endpoint, refresh_token=first["refresh_token"])
    assert replay.value.error == "invalid_grant"


def test_protected_api_accepts_the_access_token(
    server: AuthorizationServer, registered: Client, oauth: OAuth2Client, user: User
) -> None:
    token = tokens_for(server, oauth, user)

    response = call_api(server, token["access_token"])

    assert response.status_code == 200
    assert response.json() == {
        "user": user.username,
        "client_id": registered.client_id,
        "scope": SCOPE,
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token-this-server-issued"}],
    ids=["missing", "unknown"],
)
def test_protected_api_refuses_a_missing_or_unknown_token_with_401(
    server: AuthorizationServer, headers: dict[str, str]
) -> None:
    response = httpx2.get(server.api_url, headers=headers, trust_env=False)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_protected_api_refuses_an_expired_token_with_401(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    server.set_access_token_lifetime(2)
    token = tokens_for(server, oauth, user)
    issued = time.monotonic()
    assert token["expires_in"] == 2
    assert call_api(server, token["access_token"]).status_code == 200

    time.sleep(max(0.0, issued + 2.2 - time.monotonic()))

    response = call_api(server, token["access_token"])
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_grants_make_refresh_fail_with_invalid_grant_and_the_api_answer_401(
    server: AuthorizationServer, registered: Client, oauth: OAuth2Client, user: User
) -> None:
    token = tokens_for(server, oauth, user)

    deleted = server.revoke_grants(registered.client_id)

    assert deleted["access_tokens"] == 1
    assert deleted["refresh_tokens"] == 1
    with pytest.raises(OAuthError) as refused:
        oauth.refresh_token(server.token_endpoint, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert call_api(server, token["access_token"]).status_code == 401


def test_deny_at_consent_redirects_with_access_denied(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    authorization = authorize(server, oauth, user, allow=False)

    assert authorization.location.startswith(REDIRECT_URI + "?")
    assert authorization.query["error"] == ["access_denied"]
    assert authorization.query["state"] == [authorization.state]
    assert "code" not in authorization.query


def test_client_without_consent_screen_goes_straight_back_with_a_code(
    server: AuthorizationServer, user: User
) -> None:
    trusted = server.create_client([REDIRECT_URI], skip_authorization=True)
    with oauth_client(trusted) as session:
        authorization = authorize(server, session, user)

        assert "code" in authorization.query
        assert exchange(server, session, authorization)["access_token"]


def test_token_request_counter_counts_per_client_and_grant_type(
    server: AuthorizationServer, registered: Client, oauth: OAuth2Client, user: User
) -> None:
    assert server.token_requests(registered.client_id) == {}
    token = tokens_for(server, oauth, user)  # HTTP Basic client authentication
    with oauth_client(
        registered, token_endpoint_auth_method="client_secret_post"
    ) as post:
        post.refresh_token(server.token_endpoint, refresh_token=token["refresh_token"])
        with pytest.raises(OAuthError):
            post.refresh_token(server.token_endpoint, refresh_token="unknown")

    assert server.token_requests(registered.client_id) == {
        "authorization_code": 1,
        "refresh_token": 2,
    }
    server.reset_counters()
    assert server.token_requests(registered.client_id) == {}


def test_revoking_the_refresh_token_ends_the_grant(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    token = tokens_for(server, oauth, user)

    response = oauth.revoke_token(
        server.revocation_endpoint,
        token=token["refresh_token"],
        token_type_hint="refresh_token",
    )

    assert response.status_code == 200
    with pytest.raises(OAuthError) as refused:
        oauth.refresh_token(server.token_endpoint, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert call_api(server, token["access_token"]).status_code == 401


def test_introspection_reports_a_revoked_access_token_inactive(
    server: AuthorizationServer, registered: Client, oauth: OAuth2Client, user: User
) -> None:
    token = tokens_for(server, oauth, user)

    active = oauth.introspect_token(
        server.introspection_endpoint, token=token["access_token"]
    ).json()
    revoked = oauth.revoke_token(
        server.revocation_endpoint,
        token=token["access_token"],
        token_type_hint="access_token",
    )
    inactive = oauth.introspect_token(
        server.introspection_endpoint, token=token["access_token"]
    ).json()

    assert active["active"] is True
    assert active["client_id"] == registered.client_id
    assert active["username"] == user.username
    assert revoked.status_code == 200
    assert inactive == {"active": False}


def test_metadata_document_lists_the_endpoints(server: AuthorizationServer) -> None:
    response = httpx2.get(server.metadata_url, trust_env=False)

    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == server.issuer
    assert metadata["authorization_endpoint"] == server.authorization_endpoint
    assert metadata["token_endpoint"] == server.token_endpoint
    assert metadata["revocation_endpoint"] == server.revocation_endpoint
    assert metadata["introspection_endpoint"] == server.introspection_endpoint
    assert set(metadata["scopes_supported"]) >= {
        "read",
        "write",
        "profile",
        "offline_access",
    }
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_client_credentials_client_gets_a_token_without_a_user(
    server: AuthorizationServer,
) -> None:
    service = server.create_client_credentials_client()
    with oauth_client(service, scope="read") as session:
        token = session.fetch_token(
            server.token_endpoint, grant_type="client_credentials"
        )

    assert "refresh_token" not in token
    response = call_api(server, token["access_token"])
    assert response.json() == {
        "user": None,
        "client_id": service.client_id,
        "scope": "read",
    }
    assert server.token_requests(service.client_id) == {"client_credentials": 1}


def test_echo_returns_the_method_query_and_json_body(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    token = tokens_for(server, oauth, user)

    response = oauth.put(server.echo_url, params={"page": "2"}, json={"id": 7})

    assert response.status_code == 200
    assert response.json()["method"] == "PUT"
    assert response.json()["query"] == {"page": ["2"]}
    assert response.json()["json"] == {"id": 7}
    assert response.json()["scope"] == token["scope"]


def test_wrong_password_stops_the_browser_with_a_clear_error(
    server: AuthorizationServer, oauth: OAuth2Client, user: User
) -> None:
    url, _ = oauth.create_authorization_url(
        server.authorization_endpoint, code_verifier=generate_token(64)
    )

    with pytest.raises(AuthorizationFlowError, match="sign-in rejected"):
        authorize_as_browser(url, user.username, "not-the-password")


def test_unregistered_redirect_uri_is_refused_on_the_servers_own_page(
    server: AuthorizationServer, registered: Client, user: User
) -> None:
    with oauth_client(registered, redirect_uri="http://127.0.0.1:9/elsewhere") as rogue:
        url, _ = rogue.create_authorization_url(
            server.authorization_endpoint, code_verifier=generate_token(64)
        )

    with pytest.raises(AuthorizationFlowError, match="HTTP 400"):
        authorize_as_browser(url, user.username, user.password)


def test_token_delay_slows_requests_without_serialising_them(
    server: AuthorizationServer,
) -> None:
    service = server.create_client_credentials_client()
    server.set_token_delay(1.0)
    durations: list[float] = []

    def request_token() -> None:
        with oauth_client(service) as session:
            began = time.monotonic()
            session.fetch_token(server.token_endpoint, grant_type="client_credentials")
            durations.append(time.monotonic() - began)

    began = time.monotonic()
    threads = [threading.Thread(target=request_token) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - began

    assert len(durations) == 3
    assert min(durations) >= 1.0
    assert elapsed < 2.5


def test_racing_refreshes_get_the_rotated_pair_or_invalid_grant(
    server: AuthorizationServer, registered: Client, oauth: OAuth2Client, user: User
) -> None:
    """What Authwire's refresh single-flight guards against, and no server error.

    Requests that validated the old refresh token before the winner rotated it get
    the winner's pair back (DOT's design); later ones get invalid_grant.
    """
    token = tokens_for(server, oauth, user)
    racers = 6
    start_line = threading.Barrier(racers, timeout=10)
    answers: list[httpx2.Response] = []

    def refresh() -> None:
        with httpx2.Client(trust_env=False, timeout=30) as http:
            start_line.wait()
            answers.append(
                http.post(
                    server.token_endpoint,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": token["refresh_token"],
                    },
                    auth=(registered.client_id, registered.client_secret),
                )
            )

    threads = [threading.Thread(target=refresh) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == racers
    assert {a.status_code for a in answers} <= {200, 400}
    granted = {a.json()["refresh_token"] for a in answers if a.status_code == 200}
    refused = [a.json()["error"] for a in answers if a.status_code == 400]
    assert len(granted) == 1
    assert refused == ["invalid_grant"] * len(refused)
    assert server.token_requests(registered.client_id)["refresh_token"] == racers


def test_stopped_server_no_longer_answers() -> None:
    with AuthorizationServer() as transient:
        health = f"{transient.base_url}/control/health"
        assert httpx2.get(health, trust_env=False).status_code == 200
        pid = transient.pid
        assert pid is not None

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(health, trust_env=False, timeout=2)


def test_reuse_protection_option_revokes_the_whole_family_on_replay() -> None:
    user = User("carol", uuid.uuid4().hex)
    with AuthorizationServer(refresh_token_reuse_protection=True) as strict:
        strict.create_user(user.username, user.password)
        with oauth_client(strict.create_client([REDIRECT_URI])) as session:
            first = tokens_for(strict, session, user)
            second = session.refresh_token(
                strict.token_endpoint, refresh_token=first["refresh_token"]
            )
            with pytest.raises(OAuthError):
                session.refresh_token(
                    strict.token_endpoint, refresh_token=first["refresh_token"]
                )

            with pytest.raises(OAuthError) as refused:
                session.refresh_token(
                    strict.token_endpoint, refresh_token=second["refresh_token"]
                )

    assert refused.value.error == "invalid_grant"
