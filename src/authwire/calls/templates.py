"""Templates in methods: the URL, query and header values, and the body.

They are rendered by Jinja2's sandbox (no access to Python internals, so an
admin's template cannot reach the process), with undefined names as errors:
a call with a missing parameter fails before any request is sent, naming the
template and the name, instead of sending an empty value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from authwire.errors import AuthwireError

_environment = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
_environment.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
_environment.filters["urlencode_component"] = lambda value: quote(str(value), safe="")


class TemplateError(AuthwireError):
    """A template that cannot be compiled or rendered; `where` names it."""

    code = "template_error"
    status_code = 422

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"The template of {where} {message}")
        self.where = where


def syntax_problem(source: str) -> str | None:
    """Why `source` is not a valid template, or None."""
    try:
        _environment.parse(source)
    except TemplateSyntaxError as exc:
        return f"is not a valid template: {exc.message} (line {exc.lineno})."
    return None


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    """Compiling costs far more than rendering, and a method's templates
    change only when an admin edits them: compile each source once."""
    return _environment.from_string(source)


def render(where: str, source: str, parameters: Mapping[str, Any]) -> str:
    try:
        return _compiled(source).render(parameters)
    except UndefinedError as exc:
        raise TemplateError(
            where,
            f"uses a name that the call's parameters do not define: {exc.message}. "
            "Pass it as a parameter, or give it a default with "
            "{{ name | default('...') }}.",
        ) from exc
    except SecurityError as exc:
        raise TemplateError(
            where, f"tried something the sandbox forbids: {str(exc).rstrip('.')}."
        ) from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(where, f"is not a valid template: {exc.message}.") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(where, f"failed while rendering: {exc}.") from exc
