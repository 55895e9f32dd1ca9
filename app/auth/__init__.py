"""Authentication: browser sessions (Flask-Login), API credentials, role gates for pages.

The blueprint lives in `routes.py` (as the outbox's does in `app.mail.views`), so that importing
`app.auth.roles` from the models pulls in no views.
"""
