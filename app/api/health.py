"""GET /health: 200 when the database answers, 503 otherwise. No auth."""
from flask import jsonify
from sqlalchemy import text

from app.api import bp
from app.errors import problem
from app.extensions import csrf, db


@bp.route("/health")
@csrf.exempt
def health():
    """Liveness and database readiness in one probe."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return problem(503, "The database is not answering.")
    return jsonify(status="ok")
