"""/webhooks/...: the endpoints incident events are POSTed to, their secrets and their delivery log
(admins; SPEC "Outgoing webhooks"). Every rule is app.webhooks.endpoints'; these only translate."""
from flask_restful import Resource

from app.api.operations import operation
from app.api.resources.session import no_content
from app.api.schemas import shared
from app.api.webhook_schemas import (
    WebhookCreateSchema,
    WebhookDeliveryPageSchema,
    WebhookDeliveryQuerySchema,
    WebhookDeliverySchema,
    WebhookEndpointListSchema,
    WebhookEndpointSchema,
    WebhookEndpointWithSecretSchema,
    WebhookUpdateSchema,
)
from app.auth.roles import Role
from app.incidents.references import absolute_url
from app.webhooks import endpoints

ADMINS = (Role.ADMIN,)
SHOWN_ONCE = "The answer is the only place the secret is ever shown: store it now."


def _with_secret(endpoint, secret: str) -> dict:
    """The endpoint object plus its new secret (WebhookEndpointWithSecretSchema)."""
    return {**shared(WebhookEndpointSchema).dump(endpoint), "secret": secret}


class WebhookList(Resource):
    """Every webhook endpoint."""

    tag = "webhooks"

    @operation("List webhook endpoints", returns=WebhookEndpointListSchema, roles=ADMINS,
               description="Oldest first. Secrets are never listed.")
    def get(self, actor):
        return shared(WebhookEndpointListSchema).dump({"items": endpoints.list_endpoints(actor=actor)})

    @operation("Add a webhook endpoint", body=WebhookCreateSchema, status=201,
               returns=WebhookEndpointWithSecretSchema, roles=ADMINS,
               headers={"Location": "The new endpoint's URL."},
               description="Events of the chosen types are POSTed to `url`, signed with the new `secret` "
                           f"(Standard Webhooks). {SHOWN_ONCE} A URL that is not http(s), carries a user "
                           "name or password, is over 2000 characters or names a private address, or an "
                           "unknown event type, is 422 naming the field.")
    def post(self, actor, body):
        endpoint, secret = endpoints.create_endpoint(actor=actor, **body)
        return _with_secret(endpoint, secret), 201, {"Location": absolute_url("api.webhook", endpoint_id=endpoint.id)}


class Webhook(Resource):
    """One webhook endpoint."""

    tag = "webhooks"

    @operation("Get a webhook endpoint", returns=WebhookEndpointSchema, roles=ADMINS)
    def get(self, endpoint_id, actor):
        return shared(WebhookEndpointSchema).dump(endpoints.get_endpoint(actor=actor, endpoint_id=endpoint_id))

    @operation("Change a webhook endpoint", body=WebhookUpdateSchema, returns=WebhookEndpointSchema, roles=ADMINS,
               description="Only the fields sent change, checked as on creation (422). `active: true` switches "
                           "an endpoint the portal disabled back on and forgets its failures.")
    def patch(self, endpoint_id, actor, body):
        endpoint = endpoints.update_endpoint(actor=actor, endpoint_id=endpoint_id, **body)
        return shared(WebhookEndpointSchema).dump(endpoint)

    @operation("Delete a webhook endpoint", status=204, roles=ADMINS,
               description="With its delivery log; nothing more is sent to it.")
    def delete(self, endpoint_id, actor):
        endpoints.delete_endpoint(actor=actor, endpoint_id=endpoint_id)
        return no_content()


class WebhookSecretRotation(Resource):
    """A new signing secret for an endpoint."""

    tag = "webhooks"

    @operation("Rotate a webhook endpoint's secret", returns=WebhookEndpointWithSecretSchema, roles=ADMINS,
               description="A new secret signs every delivery from now on; the previous one keeps signing "
                           "beside it for 24 hours (`secret_rotating_until`), so the receiver can switch "
                           f"without losing a delivery. {SHOWN_ONCE}")
    def post(self, endpoint_id, actor):
        endpoint, secret = endpoints.rotate_secret(actor=actor, endpoint_id=endpoint_id)
        return _with_secret(endpoint, secret)


class WebhookDeliveries(Resource):
    """An endpoint's delivery log."""

    tag = "webhooks"

    @operation("An endpoint's deliveries", query=WebhookDeliveryQuerySchema, returns=WebhookDeliveryPageSchema,
               roles=ADMINS,
               description="Newest first, `limit` at a time (default 50, at most 100): the status, attempts, "
                           "last response code, duration and error of each.")
    def get(self, endpoint_id, actor, query):
        limit = query["limit"]
        # One more than asked: whether an older page exists, without counting.
        found = endpoints.list_deliveries(actor=actor, endpoint_id=endpoint_id, limit=limit + 1,
                                          before=query.get("before"))
        page = list(found)[:limit]
        more = len(found) > limit
        return shared(WebhookDeliveryPageSchema).dump(
            {"items": page, "next_before": page[-1].id if more else None})


class WebhookDeliveryReplay(Resource):
    """Sending a delivery again."""

    tag = "webhooks"

    @operation("Replay a webhook delivery", returns=WebhookDeliverySchema, roles=ADMINS, errors=(409,),
               description="Queues the same delivery again (same `webhook-id` and body, attempts from 0, due "
                           "now): a delivered or failed one goes out again, one waiting for its next retry goes "
                           "now; one being sent (`sending`), or of an endpoint switched off, is 409.")
    def post(self, delivery_id, actor):
        return shared(WebhookDeliverySchema).dump(endpoints.replay(actor=actor, delivery_id=delivery_id))
