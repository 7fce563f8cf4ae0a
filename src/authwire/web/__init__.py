"""The ASGI app: the REST API, the OAuth callback page, health and metrics."""
