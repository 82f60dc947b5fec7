"""One consistent snapshot of the database for everything an answer reads."""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@contextmanager
def snapshot(using=DEFAULT_DB_ALIAS):
    """Run the block's queries against one snapshot of the database.

    On PostgreSQL a read-only REPEATABLE READ transaction: every statement sees the
    database as of the first one, so a book read before its chapters cannot be answered
    with chapters deleted in between. On SQLite a transaction is already one snapshot
    (its first read holds the read lock, or the WAL position, until it ends). Inside a
    transaction already begun the isolation cannot change: the caller's transaction
    decides what is seen.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
