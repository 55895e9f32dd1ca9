"""`flask mail poll` and the worker's loop as processes of their own, against a real dovecot: a
poller killed with SIGKILL mid-batch loses nothing and doubles nothing once started again; a
refused login or an unreachable server ends the command non-zero with the reason."""
import signal
import time
from collections.abc import Callable

from sqlalchemy import select

from app.extensions import db
from app.models import Incident
from tests.imap.conftest import DONE, Mailbox, imap_settings
from tests.imap.dovecot import free_port

MESSAGES = 30


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.01) -> bool:
    """Poll `condition` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def titles() -> list[str]:
    """Every incident's title, as committed."""
    db.session.rollback()
    return list(db.session.scalars(select(Incident.title).order_by(Incident.id)))


def test_a_poller_killed_mid_batch_then_restarted_handles_every_message_exactly_once(
        app, people, mailbox, make_mail, poll_process, counts):
    """SIGKILL while the batch is half read (some incidents made, some not, one maybe received
    but not moved); the next poll reads the rest and the unmoved one again (a DUPLICATE, moved):
    one incident and one record per message, and the inbox ends empty."""
    mailbox.append(*[make_mail("reporter@example.test", f"Problem {n:02d}") for n in range(MESSAGES)])

    first = poll_process()
    assert wait_until(lambda: counts()[0] >= 3 or first.poll() is not None), first.communicate()
    assert first.poll() is None, "the poller finished before it could be killed: " + first.communicate()[1]
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    made, _ = counts()
    left = mailbox.count("INBOX")
    assert 3 <= made < MESSAGES and left >= MESSAGES - made

    second = poll_process()
    out, err = second.communicate(timeout=120)

    assert second.returncode == 0, err
    # What was left: the unmade ones created, at most one made but not moved seen again as a duplicate.
    duplicates = left - (MESSAGES - made)
    assert duplicates in (0, 1)
    assert f"{left} message(s): created {MESSAGES - made}" in out, out
    assert (f"duplicate {duplicates}" in out) == bool(duplicates), out
    assert sorted(titles()) == [f"Problem {n:02d}" for n in range(MESSAGES)]  # each exactly once
    assert counts() == (MESSAGES, MESSAGES)
    assert (mailbox.count("INBOX"), mailbox.count(DONE)) == (0, MESSAGES)


def test_sigterm_ends_the_poll_after_the_message_in_hand(app, people, mailbox, make_mail, poll_process, counts):
    """SIGTERM (a deploy stopping the job): the message being read is finished and moved, the rest
    stays for the next poll; nothing is left half done (every record's message is in the done folder)."""
    mailbox.append(*[make_mail("reporter@example.test", f"Problem {n:02d}") for n in range(MESSAGES)])

    process = poll_process()
    assert wait_until(lambda: counts()[0] >= 2 or process.poll() is not None)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert "stopped early" in out, out
    made, recorded = counts()
    assert made == recorded < MESSAGES
    assert (mailbox.count(DONE), mailbox.count("INBOX")) == (made, MESSAGES - made)


def test_flask_mail_poll_prints_what_it_did(app, people, mailbox, make_mail, runner):
    """One pass: the counts on stdout, exit 0; a second pass finds nothing."""
    mailbox.append(make_mail("reporter@example.test", "Disk full"), make_mail("stranger@elsewhere.test", "Hi"))

    result = runner.invoke(args=["mail", "poll"])
    assert (result.exit_code, result.output) == (0, "IMAP INBOX: 2 message(s): created 1, unknown_sender 1; "
                                                    "2 moved\n")
    result = runner.invoke(args=["mail", "poll"])
    assert (result.exit_code, result.output) == (0, "IMAP INBOX: 0 message(s): none handled; 0 moved\n")


def test_a_wrong_password_exits_non_zero_with_the_reason(app, people, own_dovecot, make_mail, runner):
    """The server refuses the login: exit 1, the message names the server, the user and the
    server's answer; the mailbox is untouched. (A server of its own: dovecot slows the next logins
    from an address that gave a wrong password.)"""
    server = own_dovecot()
    box = Mailbox(server, server.add_account())
    box.append(make_mail("reporter@example.test", "Disk full"))
    app.config.update(imap_settings(server, box.account, IMAP_PASSWORD="not-the-password"))

    result = runner.invoke(args=["mail", "poll"])

    assert result.exit_code == 1, result.output
    assert result.output == (f"Error: IMAP server 127.0.0.1:{server.imaps_port} refused the login of "
                             f"'{box.account.user}': [AUTHENTICATIONFAILED] Authentication failed.\n")
    assert (box.count("INBOX"), titles()) == (1, [])


def test_an_unreachable_server_exits_non_zero_with_the_reason(app, runner):
    """Nothing listens on the port: exit 1 and 'unreachable'."""
    port = free_port()
    app.config["IMAP_PORT"] = port
    result = runner.invoke(args=["mail", "poll"])

    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: IMAP server 127.0.0.1:{port} unreachable (tls): ")
    assert "Connection refused" in result.output


def test_an_untrusted_certificate_is_refused(app, mailbox, make_mail, runner):
    """Without our CA (the system's CAs only) the self-signed certificate is not trusted: exit 1,
    nothing read."""
    mailbox.append(make_mail("reporter@example.test", "Disk full"))
    app.config["IMAP_CA_FILE"] = None

    result = runner.invoke(args=["mail", "poll"])

    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: IMAP server 127.0.0.1:{app.config['IMAP_PORT']}: TLS failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.output
    assert mailbox.count("INBOX") == 1


def test_starttls_refused_by_the_server_is_an_error(app, dovecot, runner):
    """IMAP_SECURITY=starttls against the IMAPS port (TLS from the first byte): no plain login is
    ever tried; exit 1."""
    app.config.update(IMAP_SECURITY="starttls", IMAP_PORT=dovecot.imaps_port, IMAP_TIMEOUT_SECONDS=1)
    result = runner.invoke(args=["mail", "poll"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: IMAP server 127.0.0.1:{dovecot.imaps_port} unreachable (starttls)")


def test_without_imap_host_the_command_says_so(app, runner):
    """Not configured: exit 1 with what to set."""
    app.config["IMAP_HOST"] = None
    result = runner.invoke(args=["mail", "poll"])
    assert result.exit_code == 1
    assert "IMAP_HOST is not set" in result.output


def test_the_worker_reads_the_mailbox_while_it_runs(app, people, mailbox, make_mail, poll_process):
    """`flask outbox worker` (the compose file's worker) polls IMAP every IMAP_POLL_SECONDS when
    IMAP_HOST is set: a mail appended while it runs becomes an incident and leaves the inbox.
    (Its SMTP server is down: the mail loop and the IMAP chore do not wait on each other.)"""
    worker = poll_process("outbox", "worker", IMAP_POLL_SECONDS="1", MAIL_SERVER="127.0.0.1",
                          MAIL_PORT=str(free_port()), MAIL_USE_TLS="false", MAIL_USE_SSL="false")
    try:
        mailbox.append(make_mail("reporter@example.test", "Mail while the worker runs"))
        assert wait_until(lambda: titles() == ["Mail while the worker runs"], timeout=30, every=0.2)
        assert wait_until(lambda: mailbox.count("INBOX") == 0, timeout=10, every=0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "IMAP poll of INBOX" in err and "1 message(s): created 1; 1 moved" in err, err
