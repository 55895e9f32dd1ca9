"""/health, /health/ready and /openapi.json: what probes and tools ask for, without credentials."""
import logging

from flask_restful import Resource
from marshmallow import Schema, fields, validate
from sqlalchemy import text

from app.api.openapi import document
from app.api.operations import operation
from app.api.schemas import HealthSchema
from app.database import check_writable
from app.errors import problem
from app.exceptions import Unavailable
from app.extensions import db
from app.mail import outbox
from app.models import utcnow

log = logging.getLogger(__name__)

# How long readiness waits for the write lock: well inside the image HEALTHCHECK's 5 s timeout.
READY_LOCK_WAIT_SECONDS = 2.0


class Health(Resource):
    """Liveness and database readiness."""

    tag = "meta"

    @operation("Health check", returns=HealthSchema, public=True, errors=(503,),
               description='200 {"status": "ok"} when the database answers, 503 otherwise.')
    def get(self):
        """One trivial query proves the database answers."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            db.session.rollback()
            return problem(503, "The database is not answering.")
        return {"status": "ok"}


class OutboxBacklogSchema(Schema):
    """Mail not delivered yet, for the operator: readiness does not depend on it."""

    pending = fields.Integer(required=True, metadata={"description": "Messages waiting to go out (or going out now)."})
    failed = fields.Integer(required=True, metadata={"description": "Messages that used up their attempts."})
    oldest_pending_age_seconds = fields.Integer(required=True, allow_none=True, metadata={
        "description": "How long the oldest waiting message has waited; null when none waits."})


class ReadySchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ready"]))
    outbox = fields.Nested(OutboxBacklogSchema, required=True)


class Ready(Resource):
    """Readiness: the database takes writes now; the mail queue's size and age beside it."""

    tag = "meta"

    @operation("Readiness check", returns=ReadySchema, public=True, errors=(503,),
               description="200 when the database accepts a write (its write lock is taken and given "
                           f"straight back within {READY_LOCK_WAIT_SECONDS:g} s; nothing is written), "
                           "with the outbox backlog; 503 problem+json with Retry-After otherwise. "
                           "`/health` only says the database answers reads.")
    def get(self):
        """Take the write lock and let it go, then measure the outbox in one query."""
        try:
            check_writable(wait_seconds=READY_LOCK_WAIT_SECONDS)
            backlog = outbox.backlog()
        except Unavailable as exc:
            raise Unavailable(f"Not ready: the database accepts no writes (its write lock was not free "
                              f"within {READY_LOCK_WAIT_SECONDS:g} s).", retry_after=exc.retry_after) from exc
        except Exception as exc:
            db.session.rollback()
            log.warning("Readiness check failed: %s", exc)
            return problem(503, "Not ready: the database is not answering.")
        return {"status": "ready", "outbox": {"pending": backlog.waiting, "failed": backlog.failed,
                                              "oldest_pending_age_seconds": backlog.oldest_waiting_seconds(utcnow())}}


class OpenApiDocument(Resource):
    """This API, described."""

    tag = "meta"

    @operation("This document (OpenAPI 3)", public=True,
               description="Generated from the schemas the API validates with. Readable at /docs.")
    def get(self):
        """The OpenAPI document for every resource in routes.py."""
        return document()
