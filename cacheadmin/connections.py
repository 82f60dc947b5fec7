"""The response cache's Redis connections: each one is checked before its first command.

A process opens a connection when it starts, after an error, and also *silently*: redis-py
replaces a pooled connection that the server closed (a restart; Sentinel closes every
client of a server it promotes or demotes) the next time it is taken from the pool, and a
Sentinel pool asks the sentinels which server is primary at that moment. The server behind
the new connection may hold answers older than an acknowledged write: a replica promoted
before the write reached it, or a restart from an older file. So, in the handshake of every
new connection, before the command that asked for it is sent, the Relay's script runs on it
(cacheadmin.cache.Relay.check_server): when this server is not the one that last recorded
itself in Redis, every stored answer is retired (a new ``gen:epoch``) first. No answer from
before a failover or restart is ever served, not even by an idle process whose relay has not
looked yet. If the check fails the connection fails: the caller sees Redis as unavailable.

The request path's one round trip (round_trip) goes through a connection each thread keeps
for itself, made by the same pool's connection class (checked the same way when it connects).

django-redis builds the pools (CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"], set in
config/settings.py); these factories only choose the connection class, and keep pools of
their own so no other cache alias is ever handed a checked connection or the reverse.
"""

import os
import threading
from urllib.parse import urlsplit

from django_redis import pool
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import SentinelManagedConnection

try:
    from hiredis import pack_command
except ImportError:  # redis-py packs the commands then
    pack_command = None


class ServerChecked:
    def on_connect_check_health(self, check_health=True):
        super().on_connect_check_health(check_health=check_health)
        from cacheadmin.cache import response_cache  # settings import this module's name only

        response_cache.relay.check_server(self)


class CheckedConnection(ServerChecked, Connection):
    pass


class CheckedSSLConnection(ServerChecked, SSLConnection):
    pass


class CheckedUnixDomainSocketConnection(ServerChecked, UnixDomainSocketConnection):
    pass


class CheckedSentinelConnection(ServerChecked, SentinelManagedConnection):
    pass


CHECKED = {"redis": CheckedConnection, "rediss": CheckedSSLConnection, "unix": CheckedUnixDomainSocketConnection}


class ConnectionFactory(pool.ConnectionFactory):
    """One Redis server (REDIS_URL)."""

    _pools = {}

    def get_connection_pool(self, params):
        connection_class = CHECKED[urlsplit(params["url"]).scheme]
        self.pool_cls_kwargs = {**self.pool_cls_kwargs, "connection_class": connection_class}
        return super().get_connection_pool(params)


class SentinelConnectionFactory(pool.SentinelConnectionFactory):
    """The primary that REDIS_SENTINELS name, found again on every new connection."""

    _pools = {}

    def get_connection_pool(self, params):
        self.pool_cls_kwargs = {**self.pool_cls_kwargs, "connection_class": CheckedSentinelConnection}
        return super().get_connection_pool(params)


# --- the request path's round trip ----------------------------------------------------------

MAX_PINNED = 8  # pools a thread keeps a connection to (the cache's, the throttles'; tests make more)
_pinned = threading.local()


def round_trip(client, commands):
    """The replies of `commands` ((name, *args) tuples), sent in one packet to client's server.

    What redis-py's pipeline does for a request's few commands, without its per-call
    bookkeeping: the thread's own connection to client's pool, taken as the pool takes one (a
    connection the server closed, or one left with unread data, is replaced, never used),
    and dropped on any error, so it never holds a half-read reply. Replies are raw: no
    response callbacks; an error reply raises.
    """
    conn = _connection(client.connection_pool)
    try:
        conn.send_packed_command(_packed(conn, commands), check_health=False)
        return [_reply(conn._parser) for _ in commands]
    except BaseException:
        conn.disconnect()
        raise


def _packed(conn, commands):
    """The commands in Redis' protocol: with hiredis, one C call each (redis-py's packer walks
    every argument in Python first). Command names are single words here."""
    if pack_command is None:
        return conn.pack_commands(commands)
    return [b"".join([pack_command(command) for command in commands])]


def _reply(parser):
    """One reply, read as Connection.read_response reads it, without what it does around the
    read for every call (it formats its error messages first); an error reply raises, and a
    socket error is raised as it is (round_trip drops the connection either way)."""
    reply = parser.read_response()
    if isinstance(reply, ResponseError):
        raise reply
    return reply


def _connection(connection_pool):
    pid = os.getpid()
    if getattr(_pinned, "pid", None) != pid:  # a forked child never uses its parent's sockets
        _pinned.pid, _pinned.connections = pid, {}
    conn = _pinned.connections.get(connection_pool)
    if conn is None:
        if len(_pinned.connections) >= MAX_PINNED:
            for old in _pinned.connections.values():
                old.disconnect()
            _pinned.connections.clear()
        conn = _pinned.connections[connection_pool] = connection_pool.connection_class(
            **connection_pool.connection_kwargs
        )
    elif conn._sock is not None:  # as ConnectionPool.get_connection checks a pooled one
        try:
            stale = conn.can_read()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            stale = True
        if stale:
            conn.disconnect()
    if conn._sock is None:
        conn.connect()  # a Sentinel-managed connection asks the sentinels for the primary here
    return conn
