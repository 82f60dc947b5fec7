"""Declarations: each cached read and each retirement, declared once by the app that owns it.

The engine knows no domain. An app says, once per read, how its key is named, which
generations it depends on, how long it lives, how to build it, how to read its
parameters from a request and which parameters warm one unit of a scope (a book, say),
who may read a stored answer and what to prefetch after it. Once per model it says
which fields to watch and which generations a row retires. Everything else — the
signal receivers, the queryset hooks, the pattern of response keys, scoped clears,
warm plans, statistics per read — is derived from these declarations.

Generations are short random tokens stored under ``gen:*`` names (see
cacheadmin.cache). An answer stores the generations it was computed under; retiring a
generation makes every answer computed under it stop validating at once.

    register_read(CachedRead(name="chapter", template="book:{book_id}:chapter:{number}",
                             generations=("gen:book:{book_id}",), ttl=STATIC, build=...))
    retire_on(Chapter, fields=("book_id",), generations=lambda rows: ...)
"""

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

STATIC = "static"
DYNAMIC = "dynamic"
EPOCH_GENERATION = "gen:epoch"  # every answer depends on it: retiring it retires everything
PARAM_VALUE = r"[A-Za-z0-9_-]+"
PATTERN = re.compile(r"^[A-Za-z0-9:_\-*]{1,200}$")


def ttl_seconds(kind):
    return settings.REDIS_CACHE_DEFAULT_TTL if kind == STATIC else settings.REDIS_CACHE_DYNAMIC_TTL


def placeholders(template):
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@dataclass(frozen=True)
class Built:
    """What a builder computes from the database.

    ``data`` is what the view answers. ``meta`` is opaque to the engine: it is stored
    with the answer and handed to the read's ``access`` and ``prefetch`` hooks.
    ``store`` False answers without storing (e.g. a filter that names nothing real).
    """

    data: object
    meta: dict = field(default_factory=dict)
    store: bool = True


@dataclass(frozen=True, eq=False)
class CachedRead:
    """One cached read.

    name        unique, used in statistics and metrics ("chapter")
    template    the logical key, with {placeholders} for its parameters
    generations templates of the generations it depends on (gen:epoch is implied)
    ttl         STATIC or DYNAMIC
    build       build(**params) -> Built; raises the app's not-found exception
    params      params(request, user_id, **url_kwargs) -> dict (may raise ValidationError)
    warm        warm(unit_id) -> iterable of params dicts: what warming one unit of
                `scope` computes (None: not warmed)
    scope       the parameter naming the unit this read belongs to ("book_id"), for
                scoped clears and warming; None for reads of no unit
    access      access(meta, user_id) -> bool, checked on every answer, hits included
    prefetch    prefetch(params, meta) -> params of the read to warm after a miss, or None
    """

    name: str
    template: str
    generations: tuple
    ttl: str
    build: Callable
    params: Callable | None = None
    warm: Callable | None = None
    scope: str | None = None
    access: Callable | None = None
    prefetch: Callable | None = None

    @cached_property
    def namespace(self):
        return self.template.split(":", 1)[0]

    @cached_property
    def per_user(self):
        return "user_id" in placeholders(self.template)

    @property
    def ttl_seconds(self):
        return ttl_seconds(self.ttl)

    def key(self, params):
        return self.template.format(**params)

    def generation_names(self, params):
        return tuple(gen.format(**params) for gen in self.generations) + (EPOCH_GENERATION,)

    @cached_property
    def key_regex(self):
        parts = re.split(r"\{(\w+)\}", self.template)
        return "".join(re.escape(part) if i % 2 == 0 else PARAM_VALUE for i, part in enumerate(parts))

    def scoped_pattern(self, unit_id):
        """The key pattern of this read's answers for one unit of its scope."""
        values = {name: "*" for name in placeholders(self.template)}
        values[self.scope] = unit_id
        return self.template.format(**values)

    def allows(self, meta, user_id):
        return self.access is None or self.access(meta, user_id)


@dataclass(frozen=True, eq=False)
class Retirement:
    """What a change to a row of `model` retires.

    fields       the fields `generations` reads (the primary key is always there)
    generations  generations(rows) -> iterable of generation names, for rows given as
                 dicts of those fields; called with the rows as they were before a change
                 and as they are after it
    """

    model: type
    fields: tuple
    generations: Callable[[list], Iterable[str]]


class Registry:
    def __init__(self):
        self.reads = {}
        self.retirements = {}  # model -> [Retirement]
        self.scopes = {}  # scope parameter -> units(ids or None) -> the existing unit ids, sorted
        self._response_key = self._generation_ttls = None

    # --- reads ----------------------------------------------------------------

    def add_read(self, read):
        if read.name in self.reads and self.reads[read.name] is not read:
            raise ValueError(f"A cached read named {read.name!r} is declared already.")
        if read.scope is not None and read.scope not in placeholders(read.template):
            raise ValueError(f"{read.name}: scope {read.scope!r} is not a parameter of {read.template!r}.")
        self.reads[read.name] = read
        self._response_key = self._generation_ttls = None
        return read

    def remove_read(self, read):
        self.reads.pop(read.name, None)
        self._response_key = self._generation_ttls = None

    def response_reads(self):
        """The reads that are answers to clients (the token cache, `auth:*`, is not)."""
        return [read for read in self.reads.values() if self.is_response(read)]

    @property
    def namespaces(self):
        return tuple(dict.fromkeys(read.namespace for read in self.response_reads()))

    @staticmethod
    def is_response(read):
        return read.namespace != "auth"

    def is_response_key(self, logical_key):
        if self._response_key is None:
            self._response_key = re.compile("^(?:" + "|".join(read.key_regex for read in self.response_reads()) + ")$")
        return bool(self._response_key.match(logical_key))

    def read_of_key(self, logical_key):
        for read in self.response_reads():
            if re.fullmatch(read.key_regex, logical_key):
                return read
        return None

    def scoped_patterns(self, scope, unit_id):
        return [read.scoped_pattern(unit_id) for read in self.response_reads() if read.scope == scope]

    def add_scope(self, scope, units):
        """Declare a scope ("book_id") and how to list its units: units(ids) gives those of
        ids that exist (every one for None), in order."""
        self.scopes[scope] = units

    def units(self, scope, ids=None):
        return self.scopes[scope](ids)

    def warm_plan(self, scope, unit_id):
        """(read, params) of every answer that warming this unit computes, in declaration order."""
        for read in self.response_reads():
            if read.scope == scope and read.warm is not None:
                for params in read.warm(unit_id):
                    yield read, params

    def generation_ttl(self, generation_name):
        """How long a generation must live: as long as the longest answer that depends on it.

        A generation that expires early costs misses, never a stale answer (a missing
        generation validates nothing), so this only keeps unused generations from lingering.
        """
        if self._generation_ttls is None:
            table = {}
            for read in self.reads.values():
                for gen in read.generations:
                    pattern = re.sub(r"\\\{\w+\\\}", PARAM_VALUE, re.escape(gen))
                    table[pattern] = max(table.get(pattern, 0), read.ttl_seconds)
            self._generation_ttls = [(re.compile(pattern), seconds) for pattern, seconds in table.items()]
        if generation_name == EPOCH_GENERATION:
            return ttl_seconds(STATIC) + 60
        longest = max((s for pattern, s in self._generation_ttls if pattern.fullmatch(generation_name)), default=0)
        return (longest or ttl_seconds(STATIC)) + 60

    # --- retirements ----------------------------------------------------------

    def add_retirement(self, retirement):
        self.retirements.setdefault(retirement.model, []).append(retirement)

    def watched_fields(self, model):
        names = {"pk"}
        for retirement in self.retirements.get(model, ()):
            names.update(retirement.fields)
        return tuple(sorted(names))

    def generations_of(self, model, rows):
        """Every generation that a change to these rows (dicts of watched fields) retires."""
        found = set()
        if rows:
            for retirement in self.retirements.get(model, ()):
                found.update(retirement.generations(rows))
        return found


registry = Registry()


def is_valid_pattern(pattern):
    return isinstance(pattern, str) and bool(PATTERN.match(pattern))
