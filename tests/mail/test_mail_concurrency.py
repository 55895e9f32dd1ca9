"""Two senders at once (two threads with two app instances, then two `flask outbox send`
processes) on the same database deliver every message exactly once."""
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.mail.delivery import drain
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests import factories
from tests.mail.smtp import build_mail_app

pytestmark = pytest.mark.smtp

INCIDENTS = 20  # two mails each (confirmation + the admin): 40 rows, four claim batches


@pytest.fixture
def queued(app, people) -> int:
    """INCIDENTS incidents' creation mail, waiting in the outbox; how many rows."""
    for n in range(INCIDENTS):
        factories.make_incident(people["reporter"], title=f"Concurrent {n}")
    return db.session.scalar(select(db.func.count()).select_from(OutboxMessage))


def assert_each_delivered_once(smtp, count: int, statuses) -> None:
    """The server got `count` messages with `count` distinct Message-IDs; every row is sent."""
    inbox = smtp.inbox.wait_for(count)
    ids = Counter(smtp.inbox.message_ids())
    assert len(inbox) == count
    assert [mid for mid, n in ids.items() if n > 1] == []
    assert set(statuses()) == {OutboxStatus.SENT}


def test_two_sender_threads_deliver_each_message_once(app, smtp, queued, statuses):
    """Both threads claim and send at the same time (the server holds DATA until both connect)."""
    smtp.inbox.hold_data_until_connections(2)
    apps = [build_mail_app(app, smtp.port) for _ in range(2)]
    start = threading.Barrier(2)
    sent: dict[str, int] = {}
    errors: list[BaseException] = []

    def run(instance, name):
        try:
            with instance.app_context():
                start.wait()
                sent[name] = drain(worker=name).sent
                db.session.remove()
                db.engine.dispose()
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(instance, f"sender-{n}")) for n, instance in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    print(f"\nthread split: {sent}")
    assert sum(sent.values()) == queued
    assert all(n > 0 for n in sent.values()), f"both senders worked: {sent}"
    assert_each_delivered_once(smtp, queued, statuses)


def test_two_cli_processes_deliver_each_message_once(smtp, queued, outbox_process, statuses):
    """`flask outbox send` twice at once, as two cron jobs or two workers would."""
    smtp.inbox.hold_data_until_connections(2)
    processes = [outbox_process("send", OUTBOX_BACKGROUND_SENDER="false") for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    sent = [int(out.split("Sent ")[1].split(",")[0]) for out, _ in outputs]
    print(f"\nprocess split: {sent}")
    assert sum(sent) == queued
    assert all(n > 0 for n in sent), f"both processes worked: {sent}"
    assert_each_delivered_once(smtp, queued, statuses)
