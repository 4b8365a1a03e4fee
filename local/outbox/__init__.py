"""The outbox page of the local stack: every notification the local senders delivered or tried, and what each
recipient got (MailHog-like), on 127.0.0.1:OUTBOX_PORT. Local only: never a template route, never under /v1.

observed.py counts what only the local stack sees (replayed answers, each receive of a message by the sender),
capture.py keeps what moto's SES drops (an email's text part beside its HTML), reader.py gathers a view from
the delivery log, moto and the inbox table, server.py serves it as server-rendered HTML (templates/).
"""
