"""A real OAuth 2.0 authorization server (django-oauth-toolkit) for integration tests.

Authwire's OAuth flows are only proven against a server that really issues, rotates
and revokes tokens, so this package starts django-oauth-toolkit on loopback in a
subprocess and gives tests a small control API over it.
"""
