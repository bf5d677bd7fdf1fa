"""Filter backends for every list endpoint that refuse what they do not understand: an
unknown query parameter or an `ordering` on a field that is not offered is a 400 naming the
allowed ones, never silently ignored (a script filtering on a typo would get every row).

Allowed parameters: the view's filterset fields, `ordering` where the view orders, the
pagination parameters, DRF's `format`, and what the view lists in `extra_query_params`.
A paginator's `refused_query_params` (a page number sent to a cursor list) pass through to
the paginator, whose 400 says what to send instead.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.settings import api_settings


class StrictOrderingFilter(OrderingFilter):
    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw:
            allowed = sorted(
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            )
            asked = [term.strip() for term in raw.split(",")]
            unknown = [term for term in asked if not term or term.lstrip("-") not in allowed]
            if unknown:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {', '.join(repr(t) for t in unknown)}; order by "
                            f"{', '.join(allowed) or 'nothing here'} (prefix - for descending)."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)


def allowed_query_params(request, queryset, view) -> set[str]:
    allowed = {api_settings.URL_FORMAT_OVERRIDE, *getattr(view, "extra_query_params", ())}
    filterset_class = DjangoFilterBackend().get_filterset_class(view, queryset)
    if filterset_class is not None:
        allowed.update(filterset_class.base_filters)
    if any(issubclass(backend, OrderingFilter) for backend in view.filter_backends):
        allowed.add(api_settings.ORDERING_PARAM)
    paginator = getattr(view, "paginator", None)
    for attribute in (
        "page_query_param",
        "page_size_query_param",
        "limit_query_param",
        "cursor_query_param",
    ):
        name = getattr(paginator, attribute, None)
        if name:
            allowed.add(name)
    allowed.discard(None)
    return allowed


class StrictQueryParamsFilter(BaseFilterBackend):
    """Refuses query parameters the endpoint does not take."""

    def filter_queryset(self, request, queryset, view):
        allowed = allowed_query_params(request, queryset, view)
        # The paginator answers these itself, with what to send instead.
        refused = getattr(getattr(view, "paginator", None), "refused_query_params", {})
        unknown = sorted(set(request.query_params) - allowed - set(refused))
        if unknown:
            takes = ", ".join(sorted(allowed))
            raise ValidationError(
                {
                    name: [f"Unknown query parameter; this endpoint takes {takes}."]
                    for name in unknown
                }
            )
        return queryset
