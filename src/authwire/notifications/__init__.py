"""Telling admins when an account needs reauthorization and when it recovers:
signed webhooks and e-mail, from a transactional outbox."""
