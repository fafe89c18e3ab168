"""E-mail: an outbox table filled in the request's transaction, sent later by ``send-mail``.

Queuing is part of the transaction that decides to send (a rolled-back request queues
nothing); delivery happens outside it, so a slow or failing mail server never breaks a page.
"""
