"""URL map: DOT's endpoints under /o/, its RFC 8414 and RFC 9728 documents at the
root (where strict clients look for them), a login page, the protected API and the
control API."""

from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider.urls import base_urlpatterns, metadata_urlpatterns

from . import control, views

# One "oauth2_provider" namespace for both groups, because DOT's views reverse
# each other by name (the metadata view lists the /o/ endpoints).
oauth2_provider_patterns = [
    *metadata_urlpatterns,
    path("o/", include(base_urlpatterns)),
]

control_patterns = [
    path("health", control.health),
    path("users", control.create_user),
    path("clients", control.create_client),
    path(
        "clients/client-credentials",
        control.create_client_credentials_client,
    ),
    path("clients/<str:client_id>/revoke-grants", control.revoke_grants),
    path("access-token-lifetime", control.access_token_lifetime),
    path("token-delay", control.token_delay),
    path("token-requests", control.token_requests),
    path("token-requests/reset", control.reset_token_requests),
]

urlpatterns = [
    path("", include((oauth2_provider_patterns, "oauth2_provider"))),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("api/me", views.MeView.as_view(), name="api-me"),
    path("api/echo", views.EchoView.as_view(), name="api-echo"),
    path("control/", include(control_patterns)),
]
