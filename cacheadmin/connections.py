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

django-redis builds the pools (CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"], set in
config/settings.py); these factories only choose the connection class, and keep pools of
their own so no other cache alias is ever handed a checked connection or the reverse.
"""

from urllib.parse import urlsplit

from django_redis import pool
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.sentinel import SentinelManagedConnection


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
