"""Authwire: credentials, OAuth 2.0 token keeping and web service calls."""

__version__ = "0.1.0"
