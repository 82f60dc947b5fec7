"""How the settings reach Redis: one server (REDIS_URL) or the primary that Sentinel names.

Every Redis user of the project builds its settings here, so the cache, the throttles
and Celery follow the same primary through a failover:

    redis_cache(target, db=0, key_prefix="reader", ...)   a CACHES entry (django-redis)
    celery_redis(target, db=1)                            (url, transport options) for Celery

With Sentinel, REDIS_URL still gives the password (and user) of the data nodes; its host
is not used. Connections go to the primary only: a replica may be behind an acknowledged
write, so nothing is ever read from one. Plain functions of their arguments, no Django.
"""

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from redis.backoff import NoBackoff
from redis.retry import Retry

SENTINEL_DEFAULT_PORT = 26379


class RedisConfigError(ValueError):
    """A Redis setting that cannot work (the settings turn it into ImproperlyConfigured)."""


def parse_sentinels(value):
    """[(host, port)] of "host:port,host:port" (a list of such strings works too)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    sentinels = []
    for item in (part.strip() for part in items):
        if not item:
            continue
        host, _, port = item.rpartition(":") if ":" in item else (item, "", str(SENTINEL_DEFAULT_PORT))
        if not host or not port.isdigit():
            raise RedisConfigError(f"REDIS_SENTINELS: {item!r} is not host:port")
        sentinels.append((host, int(port)))
    return sentinels


def no_retry():
    """One attempt per call: the cache's circuit breaker, not redis-py, decides when to try again."""
    return Retry(NoBackoff(), 0)


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is: REDIS_URL, or the Sentinel master `master` found through `sentinels`."""

    url: str
    sentinels: tuple = ()
    master: str = ""
    sentinel_password: str = ""
    socket_timeout: float = 0.25
    connect_timeout: float = 0.25

    def __post_init__(self):
        if self.sentinels and not self.master:
            raise RedisConfigError("REDIS_SENTINELS is set: REDIS_SENTINEL_MASTER must name the master")
        if self.sentinels and self._parts.scheme != "redis":
            raise RedisConfigError("With REDIS_SENTINELS, REDIS_URL must be a redis:// URL (no TLS through Sentinel)")

    @property
    def uses_sentinel(self):
        return bool(self.sentinels)

    @property
    def _parts(self):
        return urlsplit(self.url)

    @property
    def db(self):
        """The database number REDIS_URL names (0 without one)."""
        path = self._parts.path.strip("/")
        return int(path) if path.isdigit() else 0

    def _userinfo(self):
        parts = self._parts
        if parts.username is None and parts.password is None:
            return ""
        user = quote(unquote(parts.username or ""), safe="")
        password = f":{quote(unquote(parts.password), safe='')}" if parts.password is not None else ""
        return f"{user}{password}@"

    def url_for(self, db):
        """A redis:// URL of database `db`: REDIS_URL's server, or the master's name for django-redis."""
        parts = self._parts
        host = self.master if self.uses_sentinel else parts.netloc.rpartition("@")[2]
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{self._userinfo()}{host}/{db}{query}"

    def sentinel_kwargs(self):
        """How to talk to the sentinels themselves: short timeouts, one attempt."""
        kwargs = {"socket_timeout": self.socket_timeout, "socket_connect_timeout": self.connect_timeout}
        kwargs["retry"] = no_retry()
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def redis_cache(target, *, db=None, key_prefix, timeout=300, options=None, connection_factory=None):
    """A CACHES entry (django-redis) on database `db` (REDIS_URL's by default).

    Short socket timeouts and no retries, as the response cache needs; `options` adds or
    overrides OPTIONS (SERIALIZER, COMPRESSOR, ...). `connection_factory` replaces
    django-redis' (the response cache checks each new connection, see cacheadmin.connections);
    leave it None for any other alias.
    """
    opts = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": target.connect_timeout,
        "SOCKET_TIMEOUT": target.socket_timeout,
        "CONNECTION_POOL_KWARGS": {"max_connections": 50, "retry": no_retry()},
    }
    if db is None:
        location = target.url_for(target.db) if target.uses_sentinel else target.url
    else:
        location = target.url_for(db)
    if target.uses_sentinel:
        opts["CLIENT_CLASS"] = "django_redis.client.SentinelClient"
        opts["CONNECTION_FACTORY"] = "django_redis.pool.SentinelConnectionFactory"
        opts["SENTINELS"] = list(target.sentinels)
        opts["SENTINEL_KWARGS"] = target.sentinel_kwargs()
        # A list of one URL: SentinelClient then makes no replica pool (a string would
        # give it a second, read-only one that django-redis reads from).
        location = [location]
    if connection_factory:
        opts["CONNECTION_FACTORY"] = connection_factory
    for name, value in (options or {}).items():
        if name == "CONNECTION_POOL_KWARGS":
            opts[name] = {**opts[name], **value}
        else:
            opts[name] = value
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "TIMEOUT": timeout,
        "OPTIONS": opts,
    }


def celery_redis(target, db):
    """(url, transport options) of Redis database `db` for Celery's broker or result backend.

    With Sentinel: `sentinel://[:password@]host:port/db;...` and {"master_name": ...}
    (kombu's and Celery's Sentinel transports); otherwise REDIS_URL's server and {}.
    """
    if not target.uses_sentinel:
        return target.url_for(db), {}
    userinfo = target._userinfo()
    url = ";".join(f"sentinel://{userinfo}{host}:{port}/{db}" for host, port in target.sentinels)
    options = {"master_name": target.master}
    if target.sentinel_password:
        options["sentinel_kwargs"] = {"password": target.sentinel_password}
    return url, options
