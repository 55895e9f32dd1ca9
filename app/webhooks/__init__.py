"""Outgoing webhooks (SPEC "Outgoing webhooks"; docs/webhooks.md): endpoints admins manage, one
delivery row per event and endpoint written in the change's own transaction, and the background
pass that signs (Standard Webhooks) and POSTs them with retries."""
