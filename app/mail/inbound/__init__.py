"""Inbound mail (SPEC "Inbound mail"; docs/mail.md): one parser, three doors (`flask mail receive`,
`flask mail poll`, the background IMAP loop), turning each message into an incident or a comment."""
