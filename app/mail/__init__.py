"""Outbox delivery over SMTP: a background sender, retries with backoff."""
