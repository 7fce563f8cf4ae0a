"""Auth accounts: the kinds of credentials, their presets and their rules."""
