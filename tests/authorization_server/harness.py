"""Start, drive and stop the test authorization server (django-oauth-toolkit).

The server runs in a subprocess so that Django never gets configured inside the
pytest process, and so that Authwire talks to it over real HTTP exactly as it talks
to a provider. This module only speaks HTTP to it; it never imports Django.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urljoin, urlsplit

import httpx2

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
SERVE_SCRIPT = PACKAGE_DIR / "serve.py"
LOOPBACK = "127.0.0.1"


class AuthorizationServerError(RuntimeError):
    """The server did not start, or a control call was refused."""


class AuthorizationFlowError(RuntimeError):
    """The simulated browser met a page it did not expect.

    The message carries the step, the status and a short excerpt of the page, which
    is usually enough to tell a wrong password from a rejected redirect URI.
    """


@dataclass(frozen=True)
class Client:
    """A client registered at the server, with its plaintext secret.

    The secret is left out of ``repr`` so that it does not end up in test reports.
    """

    client_id: str
    client_secret: str = field(repr=False)


class AuthorizationServer:
    """One django-oauth-toolkit server on a free 127.0.0.1 port, in a subprocess.

    Endpoint attributes are valid once :meth:`start` has returned. Every control
    method is a single HTTP call to the server's test-only ``/control/`` API.
    """

    def __init__(
        self,
        *,
        access_token_lifetime: int = 3600,
        refresh_token_reuse_protection: bool = False,
        refresh_token_grace_seconds: int = 0,
        startup_timeout: float = 30.0,
    ) -> None:
        self.default_access_token_lifetime = access_token_lifetime
        self.refresh_token_reuse_protection = refresh_token_reuse_protection
        self.refresh_token_grace_seconds = refresh_token_grace_seconds
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._data_dir: Path | None = None
        self._log_file: IO[bytes] | None = None
        self._control: httpx2.Client | None = None
        self._base_url: str | None = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Starts the subprocess and returns once it answers HTTP requests.

        On any failure the subprocess is stopped before the error propagates, so a
        failed start never leaves a server behind.
        """
        if self._process is not None:
            raise AuthorizationServerError("the server is already started")
        began = time.monotonic()
        try:
            self._data_dir = Path(tempfile.mkdtemp(prefix="authz-server-"))
            port_file = self._data_dir / "port"
            self._log_file = open(self._data_dir / "server.log", "wb")
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    str(SERVE_SCRIPT),
                    "--port-file",
                    str(port_file),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                cwd=self._data_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
            )
            self._wait_until_serving(port_file, deadline=began + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        logger.info(
            "authorization server up at %s after %.2f s",
            self.base_url,
            self.startup_seconds,
        )

    def _environment(self) -> dict[str, str]:
        """What the subprocess reads its configuration from (see project/settings)."""
        assert self._data_dir is not None
        inherited = os.environ.get("PYTHONPATH")
        return {
            **os.environ,
            # serve.py imports the Django project as the top-level package "project".
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_DIR), inherited])),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "AUTHZ_SERVER_DATA_DIR": str(self._data_dir),
            "AUTHZ_SERVER_ACCESS_TOKEN_SECONDS": str(
                self.default_access_token_lifetime
            ),
            "AUTHZ_SERVER_REFRESH_TOKEN_REUSE_PROTECTION": (
                "1" if self.refresh_token_reuse_protection else "0"
            ),
            "AUTHZ_SERVER_REFRESH_TOKEN_GRACE_SECONDS": str(
                self.refresh_token_grace_seconds
            ),
        }

    def _wait_until_serving(self, port_file: Path, *, deadline: float) -> None:
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AuthorizationServerError(
                    f"the server exited with status {self._process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            if self._control is None and port_file.exists():
                port = int(port_file.read_text())
                self._base_url = f"http://{LOOPBACK}:{port}"
                self._control = httpx2.Client(
                    base_url=self._base_url, timeout=10.0, trust_env=False
                )
            if self._control is not None:
                try:
                    health = self._control.get("/control/health", timeout=2.0)
                    if health.status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
            time.sleep(0.05)
        raise AuthorizationServerError(
            f"the server did not answer within {self.startup_timeout} s:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stops the subprocess (SIGTERM, then SIGKILL) and removes its data.

        Safe to call more than once, and after a failed start.
        """
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    logger.warning("authorization server ignored SIGTERM; killing it")
                    self._process.kill()
                    self._process.wait(timeout=5)
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
        self._base_url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for error messages.

        The server logs nothing below WARNING and no access log, so this holds
        error reports but no tokens.
        """
        if self._data_dir is None:
            return ""
        log_path = self._data_dir / "server.log"
        if not log_path.exists():
            return ""
        text = log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    @property
    def pid(self) -> int | None:
        """Process id of the running server, for tests of the harness itself."""
        return self._process.pid if self._process is not None else None

    # -- addresses ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise AuthorizationServerError("the server is not started")
        return self._base_url

    @property
    def issuer(self) -> str:
        """RFC 8414 issuer: DOT derives it from the metadata URL, the server root."""
        return self.base_url

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/oauth-authorization-server"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.base_url}/o/authorize/"

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/o/token/"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.base_url}/o/revoke_token/"

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.base_url}/o/introspect/"

    @property
    def api_url(self) -> str:
        """Protected resource answering who the token belongs to and its scope."""
        return f"{self.base_url}/api/me"

    @property
    def echo_url(self) -> str:
        """Protected resource echoing method, query and JSON body of any call."""
        return f"{self.base_url}/api/echo"

    # -- control API --------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if self._control is None:
            raise AuthorizationServerError("the server is not started")
        response = self._control.request(
            method, f"/control/{path}", json=payload, params=params
        )
        if response.status_code >= 400:
            raise AuthorizationServerError(
                f"control call {method} /control/{path} answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def create_user(self, username: str, password: str) -> None:
        self._call("POST", "users", {"username": username, "password": password})

    def create_client(
        self, redirect_uris: list[str], *, skip_authorization: bool = False
    ) -> Client:
        """Registers a confidential authorization-code client.

        ``skip_authorization`` stands for a provider that does not ask the user for
        consent (first-party apps); the browser then goes straight back.
        """
        body = self._call(
            "POST",
            "clients",
            {"redirect_uris": redirect_uris, "skip_authorization": skip_authorization},
        )
        return Client(body["client_id"], body["client_secret"])

    def create_client_credentials_client(self) -> Client:
        body = self._call("POST", "clients/client-credentials", {})
        return Client(body["client_id"], body["client_secret"])

    def access_token_lifetime(self) -> int:
        return int(self._call("GET", "access-token-lifetime")["seconds"])

    def set_access_token_lifetime(self, seconds: int) -> None:
        """Applies to tokens issued from now on; issued tokens keep their expiry."""
        self._call("POST", "access-token-lifetime", {"seconds": seconds})

    def revoke_grants(self, client_id: str) -> dict[str, int]:
        """Deletes every code, access token and refresh token of the client.

        Answers how many of each were deleted.
        """
        return self._call("POST", f"clients/{client_id}/revoke-grants")

    def token_requests(self, client_id: str) -> dict[str, int]:
        """Token-endpoint requests made for the client, per grant type.

        Counted on arrival, whether or not the server granted them.
        """
        counts: dict[str, int] = self._call(
            "GET", "token-requests", params={"client_id": client_id}
        )["counts"]
        return counts

    def reset_counters(self) -> None:
        self._call("POST", "token-requests/reset")

    def set_token_delay(self, seconds: float) -> None:
        """Holds every token request this long before DOT handles it.

        Widens the window in which concurrent refreshes overlap.
        """
        self._call("POST", "token-delay", {"seconds": seconds})

    def restore_defaults(self) -> None:
        """Undoes the runtime knobs, for tests sharing the session server."""
        self.set_access_token_lifetime(self.default_access_token_lifetime)
        self.set_token_delay(0)
        self.reset_counters()


# -- the browser ------------------------------------------------------------------


@dataclass
class _Form:
    attributes: dict[str, str]
    fields: list[tuple[str, str]] = field(default_factory=list)
    submits: list[tuple[str, str]] = field(default_factory=list)
    has_password: bool = False


class _FormParser(HTMLParser):
    """Collects the forms of a page with their fields, as a browser would submit
    them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = _Form(attributes)
            self.forms.append(self._current)
            return
        if self._current is None or tag not in ("input", "button"):
            return
        kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
        name = attributes.get("name")
        if kind == "password":
            self._current.has_password = True
        if not name or "disabled" in attributes:
            return
        if kind in ("submit", "image"):
            self._current.submits.append((name, attributes.get("value", "")))
        elif kind in ("checkbox", "radio"):
            if "checked" in attributes:
                self._current.fields.append((name, attributes.get("value", "on")))
        else:
            self._current.fields.append((name, attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms_of(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def _excerpt(response: httpx2.Response, limit: int = 300) -> str:
    text = re.sub(r"<[^>]+>", " ", response.text)
    return re.sub(r"\s+", " ", text).strip()[:limit]


def _flow_error(step: str, response: httpx2.Response) -> AuthorizationFlowError:
    return AuthorizationFlowError(
        f"{step}: HTTP {response.status_code} from {response.request.url.path}: "
        f"{_excerpt(response)!r}"
    )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def authorize_as_browser(
    authorization_url: str,
    username: str,
    password: str,
    *,
    allow: bool = True,
    timeout: float = 10.0,
    max_steps: int = 10,
) -> str:
    """Plays the user: signs in, answers the consent page, returns the redirect.

    Starts from a fresh cookie jar, so the user always has to sign in. Returns the
    ``Location`` that sends the browser back to the client's redirect URI (with
    ``code`` or ``error``) without following it: delivering it is the caller's job,
    as the browser would deliver it to Authwire's callback.
    """
    server_origin = _origin(authorization_url)
    signed_in = consented = False
    with httpx2.Client(
        follow_redirects=False, timeout=timeout, trust_env=False
    ) as browser:
        response = browser.get(authorization_url)
        for _ in range(max_steps):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if _origin(target) != server_origin:
                    return target
                response = browser.get(target)
                continue
            if response.status_code != 200:
                raise _flow_error("authorization request refused", response)
            forms = _forms_of(response.text)
            login = next((form for form in forms if form.has_password), None)
            consent = next(
                (f for f in forms if f.attributes.get("id") == "authorizationForm"),
                None,
            )
            if login is not None:
                if signed_in:
                    raise _flow_error("sign-in rejected", response)
                signed_in = True
                data = dict(login.fields)
                data.update(username=username, password=password)
                response = _submit(browser, response, login, data)
            elif consent is not None:
                if consented:
                    raise _flow_error("consent form rejected", response)
                consented = True
                data = dict(consent.fields)
                if allow:
                    # The "Authorize" button; "Cancel" has no name, so clicking it
                    # sends no "allow" field and DOT answers access_denied.
                    data.update(
                        (name, value)
                        for name, value in consent.submits
                        if name == "allow"
                    )
                    if "allow" not in data:
                        raise _flow_error("no Authorize button on consent", response)
                response = _submit(browser, response, consent, data)
            else:
                raise _flow_error("neither a sign-in nor a consent page", response)
        raise AuthorizationFlowError(
            f"no redirect to the client after {max_steps} steps"
        )


def _submit(
    browser: httpx2.Client,
    page: httpx2.Response,
    form: _Form,
    data: dict[str, str],
) -> httpx2.Response:
    if form.attributes.get("method", "get").lower() != "post":
        raise _flow_error("expected a POST form", page)
    action = urljoin(str(page.url), form.attributes.get("action", ""))
    return browser.post(action, data=data, headers={"Referer": str(page.url)})
