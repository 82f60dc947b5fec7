"""Forms of the Django admin cache panel (cacheadmin.admin)."""

import re

from django import forms

from cacheadmin import operations


class PatternForm(forms.Form):
    pattern = forms.CharField(
        max_length=200,
        help_text=operations.PATTERN_HELP,
        widget=forms.TextInput(attrs={"placeholder": "book:7:*", "size": 40}),
    )

    def clean_pattern(self):
        pattern = self.cleaned_data["pattern"]
        try:
            return operations.validate_pattern(pattern)
        except operations.InvalidPattern as error:
            raise forms.ValidationError(str(error)) from error


class WarmForm(forms.Form):
    books = forms.CharField(
        required=False,
        label="Book ids",
        help_text="Separated by commas or spaces.",
        widget=forms.TextInput(attrs={"placeholder": "1, 2, 3", "size": 40, "list": "book-ids"}),
    )
    all = forms.BooleanField(required=False, label="All books")

    def clean_books(self):
        text = self.cleaned_data["books"].strip()
        ids = []
        for part in re.split(r"[\s,]+", text) if text else []:
            if not part.isdigit() or int(part) < 1:
                raise forms.ValidationError(f"'{part}' is not a book id.")
            ids.append(int(part))
        return sorted(set(ids))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            operations.check_warm_target(data.get("books"), data.get("all"), books="book ids", everything="'All books'")
        except operations.InvalidWarmTarget as error:
            raise forms.ValidationError(str(error)) from error
        return data
