"""One pass over the due webhook deliveries (a stub until the delivery pass lands)."""
import threading


def drain(*, stop: threading.Event | None = None) -> None:
    """Deliver every due delivery once."""
    return None
