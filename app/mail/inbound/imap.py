"""Reading an IMAP mailbox (a stub until the poller lands)."""
import threading


def poll(*, stop: threading.Event | None = None) -> None:
    """Read IMAP_FOLDER once."""
    return None
