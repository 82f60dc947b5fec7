"""What a row held before the save in progress, for receivers that compare before and after.

`track(Model, *fields)` reads those fields from the database just before every update
(one query; not for new rows), so a move between books, owners or users, or a
visibility flip, is seen whatever the instance went through in memory
(`refresh_from_db()`, an admin form).
"""

from django.db.models.signals import pre_save


def track(model, *fields):
    def remember(sender, instance, raw=False, **kwargs):
        stored = None
        if not raw and not instance._state.adding and instance.pk is not None:
            stored = sender._default_manager.filter(pk=instance.pk).values(*fields).first()
        instance._stored_before_save = stored

    pre_save.connect(remember, sender=model, weak=False, dispatch_uid=f"track-{model._meta.label}")


def before(instance, field):
    """The field's value before the save in progress (its current value for a new row)."""
    stored = getattr(instance, "_stored_before_save", None)
    return getattr(instance, field) if stored is None else stored[field]
