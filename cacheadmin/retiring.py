"""Every write retires what it affects, once its transaction commits, on every path.

`retire_on(Model, fields=…, generations=…)` (see cacheadmin.registry) is all an app
writes. From it this module derives:

- receivers of pre_save (the watched fields as stored, before an update), post_save and
  post_delete — the API, the Django admin, `save()`/`delete()` in code, management
  commands, cascades and queryset `delete()` (Django sends per-row signals for models
  with receivers);
- querysets that retire on `update()`, `bulk_update()` (which calls `update()`) and
  `bulk_create()`: every manager of the model, the base manager and related managers
  included, is given them, so no caller can forget. Raw SQL is the one exception.

A change retires the generations of its rows as they were before and as they are after
(a book moved to another owner retires both owners' lists). Generations retired in one
transaction are sent to Redis together, after it commits.
"""

import threading
from functools import partial, partialmethod

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_delete, post_save, pre_save

from cacheadmin.cache import response_cache
from cacheadmin.registry import Retirement, registry

_pending = threading.local()


def retire_after_commit(generations, using=DEFAULT_DB_ALIAS):
    """Retire these generations now, or when the transaction in progress commits.

    Every call inside a transaction adds its generations to this thread's pending set
    for the connection and asks for a flush on commit; the first flush after the commit
    sends them all in one pipeline. A rolled-back (save)point drops its own callbacks but
    not those of the writes around it; its generations may be retired anyway, which costs
    a miss, never a stale answer.
    """
    if not generations:
        return
    if not connections[using].in_atomic_block:
        response_cache.retire(generations)
        return
    by_alias = _pending.__dict__.setdefault("by_alias", {})
    by_alias.setdefault(using, set()).update(generations)
    transaction.on_commit(partial(_flush, using), using=using)


def _flush(using):
    generations = _pending.__dict__.get("by_alias", {}).pop(using, None)
    if generations:
        response_cache.retire(generations)


def retire_on(model, *, fields=(), generations):
    """Declare what a change to a row of model retires (see cacheadmin.registry.Retirement)."""
    first = model not in registry.retirements
    registry.add_retirement(Retirement(model, tuple(fields), generations))
    if first:
        _watch(model)


def retire_rows(model, rows, using=DEFAULT_DB_ALIAS):
    retire_after_commit(registry.generations_of(model, rows), using=using)


# --- one row at a time: signals -------------------------------------------------------


def _row(instance, fields):
    return {name: instance.pk if name == "pk" else getattr(instance, name) for name in fields}


def _remember_before(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, **kwargs):
    stored = None
    if not raw and not instance._state.adding and instance.pk is not None:
        stored = sender._base_manager.using(using).filter(pk=instance.pk)
        stored = stored.values(*registry.watched_fields(sender)).first()
    instance._cache_row_before = stored


def _saved(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs):
    rows = [_row(instance, registry.watched_fields(sender))]
    before = row_before(instance)
    if before is not None:
        rows.append(before)
    retire_rows(sender, rows, using)


def row_before(instance):
    """The watched fields of the row as stored before the save in progress (None for a new row)."""
    return getattr(instance, "_cache_row_before", None)


def _deleted(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs):
    retire_rows(sender, [_row(instance, registry.watched_fields(sender))], using)


# --- many rows at once: querysets --------------------------------------------------------


class RetiringQuerySetMixin:
    """update(), bulk_update() and bulk_create() that retire what they change."""

    def update(self, **kwargs):
        model = self.model
        fields = registry.watched_fields(model)
        with transaction.atomic(using=self.db, savepoint=False):
            before = list(self.select_for_update().values(*fields))
            if not before:
                return 0
            pks = [row["pk"] for row in before]
            connection = connections[self.db]
            size = connection.ops.bulk_batch_size(["pk"], pks) or len(pks)
            base = model._base_manager.using(self.db)
            changed = 0
            for start in range(0, len(pks), size):
                # Only the rows read (and locked) above, so exactly those rows are retired.
                chunk = base.filter(pk__in=pks[start : start + size])
                changed += super(RetiringQuerySetMixin, chunk).update(**kwargs)
            rows = before
            if _touches(model, kwargs, fields):
                rows = before + list(base.filter(pk__in=pks).values(*fields))
            retire_rows(model, rows, self.db)
        return changed

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        fields = registry.watched_fields(self.model)
        retire_rows(self.model, [_row(obj, fields) for obj in created], self.db)
        return created


def _touches(model, kwargs, fields):
    attnames = {model._meta.get_field(name).attname for name in kwargs}
    return bool(attnames & set(fields)) or "pk" in kwargs


def _same_name(cls, bases, attrs):
    """A subclass that keeps cls's name and module: migrations compare managers (and
    querysets behind `as_manager()`) by their import path."""
    names = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "_cache_retiring": True}
    return type(cls.__name__, bases, {**attrs, **names})


def _equal_to_original(self, original, other):
    """The migration autodetector compares managers: ours equals the manager it replaces."""
    return isinstance(other, original) and self._constructor_args == other._constructor_args


def _make_managers_retire(model):
    managers = list(model._meta.managers)
    if all(manager is not model._meta.base_manager for manager in managers):
        managers.append(model._meta.base_manager)
    for manager in managers:
        if getattr(type(manager), "_cache_retiring", False):
            continue
        queryset_class = manager._queryset_class
        if not issubclass(queryset_class, RetiringQuerySetMixin):
            queryset_class = _same_name(queryset_class, (RetiringQuerySetMixin, queryset_class), {})
        original = type(manager)
        manager.__class__ = _same_name(
            original,
            (original,),
            {
                "_queryset_class": queryset_class,
                "__eq__": partialmethod(_equal_to_original, original),
                "__hash__": original.__hash__,
            },
        )


def _watch(model):
    uid = f"cache-retire-{model._meta.label}"
    pre_save.connect(_remember_before, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(_saved, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(_deleted, sender=model, weak=False, dispatch_uid=uid)
    _make_managers_retire(model)
