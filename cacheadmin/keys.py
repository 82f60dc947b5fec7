"""Every key of the response cache: its logical name, its TTL and what retires it.

An answer is stored under its logical key (``book:7:metadata``) together with the
*generations* it was computed under: short random tokens kept in Redis under
``gen:*`` names. A write replaces the generations its change touches, so every answer
computed before it stops validating at once, whatever its key. One write costs a few
SETs, however many keys Redis holds, and an answer computed from data read before a
write can never be stored as current after it: it carries the older generation.

Generations (what each write replaces, see ``for_*`` below):

=====================  =========================================================
``gen:book:{id}``      the book, its chapters or descriptions changed
``gen:user:{id}``      one of the user's books, their progress or the user changed
``gen:public``         a public book changed, or a book became or stopped being public
``gen:token:{digest}`` an API token was deleted or its user changed
``gen:epoch``          Redis missed invalidations or restarted: everything retires
=====================  =========================================================
"""

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings

STATIC = "static"
DYNAMIC = "dynamic"

PUBLIC_GEN = "gen:public"
EPOCH_GEN = "gen:epoch"


def ttl(kind):
    if kind == STATIC:
        return settings.REDIS_CACHE_DEFAULT_TTL
    return settings.REDIS_CACHE_DYNAMIC_TTL


def book_gen(book_id):
    return f"gen:book:{book_id}"


def user_gen(user_id):
    return f"gen:user:{user_id}"


def token_digest(token_key):
    return hashlib.sha256(token_key.encode()).hexdigest()[:32]


def token_gen(token_key):
    return f"gen:token:{token_digest(token_key)}"


@dataclass(frozen=True)
class Read:
    """One cached read: how its key is named, how long it lives, what it depends on."""

    name: str
    namespace: str
    ttl_kind: str
    template: str
    depends_on: tuple

    def key(self, **params):
        return self.template.format(**params)

    def generations(self, **params):
        return tuple(gen.format(**params) for gen in self.depends_on) + (EPOCH_GEN,)

    @property
    def ttl(self):
        return ttl(self.ttl_kind)

    @property
    def per_user(self):
        return "{user_id}" in self.template


BOOK_LIST = Read(
    "book_list",
    "user",
    DYNAMIC,
    "user:{user_id}:books:{shelf}:{offset}:{limit}",
    ("gen:user:{user_id}", PUBLIC_GEN),
)
BOOK = Read("book", "book", STATIC, "book:{book_id}:metadata", ("gen:book:{book_id}",))
CHAPTER_LIST = Read("chapter_list", "book", STATIC, "book:{book_id}:chapters:list", ("gen:book:{book_id}",))
CHAPTER = Read("chapter", "book", STATIC, "book:{book_id}:chapter:{number}", ("gen:book:{book_id}",))
PROGRESS = Read(
    "progress",
    "user",
    DYNAMIC,
    "user:{user_id}:progress:{book_id}",
    ("gen:user:{user_id}", "gen:book:{book_id}"),
)
DESCRIPTIONS = Read(
    "descriptions",
    "book",
    STATIC,
    "book:{book_id}:descriptions:{kind}:{chapter}",
    ("gen:book:{book_id}",),
)
# Not a response: the user behind an API token, so a warm hit needs no SQL at all.
TOKEN_USER = Read("token_user", "auth", DYNAMIC, "auth:token:{digest}", ("gen:token:{digest}",))

RESPONSE_READS = (BOOK_LIST, BOOK, CHAPTER_LIST, CHAPTER, PROGRESS, DESCRIPTIONS)
NAMESPACES = ("book", "user")

# The logical keys of the response cache, and nothing else (clear and stats rely on it).
RESPONSE_KEY = re.compile(
    r"^(?:book:\d+:(?:metadata|chapters:list|chapter:\d+|descriptions:[\w-]+:[\w-]+)"
    r"|user:\d+:(?:books:[\w-]+:\d+:\d+|progress:\d+))$"
)
PATTERN = re.compile(r"^[A-Za-z0-9:_\-*]{1,200}$")


def is_response_key(logical_key):
    return bool(RESPONSE_KEY.match(logical_key))


def is_valid_pattern(pattern):
    return bool(PATTERN.match(pattern or ""))


# --- what each write retires ---------------------------------------------------


def for_book(book_id, owner_ids, public_now, public_before):
    """A book changed: its reads, its owners' lists (before and after), and if it is or was
    public, every user's lists."""
    gens = [book_gen(book_id), *(user_gen(owner_id) for owner_id in set(owner_ids))]
    if public_now or public_before:
        gens.append(PUBLIC_GEN)
    return gens


def for_book_content(book_id):
    """Chapters and descriptions: the book's own reads (its counts change via the book)."""
    return [book_gen(book_id)]


def for_progress(user_id):
    return [user_gen(user_id)]


def for_token(token_key):
    return [token_gen(token_key)]


def for_user(user_id, token_keys):
    return [user_gen(user_id), *(token_gen(key) for key in token_keys)]
