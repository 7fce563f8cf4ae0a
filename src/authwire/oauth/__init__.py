"""The OAuth 2.0 authorization-code flow (RFC 6749 section 4.1, with PKCE,
RFC 7636, and issuer identification, RFC 9207): the Generate button."""
