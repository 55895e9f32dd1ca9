"""/health and /openapi.json: what probes and tools ask for, without credentials."""
from flask_restful import Resource
from sqlalchemy import text

from app.api.openapi import document
from app.api.operations import operation
from app.api.schemas import HealthSchema
from app.errors import problem
from app.extensions import db


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


class OpenApiDocument(Resource):
    """This API, described."""

    tag = "meta"

    @operation("This document (OpenAPI 3)", public=True,
               description="Generated from the schemas the API validates with. Readable at /docs.")
    def get(self):
        """The OpenAPI document for every resource in routes.py."""
        return document()
