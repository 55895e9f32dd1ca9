"""The schema facts the tests share: the tables a request can change, and how far the database the
migrations built is from the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.database import include_in_autogenerate
from app.extensions import db

# Every table a request could change (snapshots compare them; the migrations must build them).
TABLES = ("users", "incidents", "incident_events", "api_tokens", "outbox_messages", "incident_watchers", "attachments",
          "inbound_messages", "webhook_endpoints", "webhook_deliveries", "saved_views")


def differences_from_the_models() -> list:
    """What autogenerate would change to make the connected database match the models ([] when it does)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_in_autogenerate})
        return compare_metadata(context, db.metadata)
