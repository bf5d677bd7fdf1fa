"""How the list endpoints page.

- BoundedCountPagination: page numbers, for lists that stay small (projects, assets, runs):
  a count exact up to COUNT_CAP rows, the planner's estimate past it (annotate.counting),
  and `count_exact` says which.
- KeysetPagination: for lists that grow to millions of rows (tasks). A page is the rows
  after the last one of the previous page in a unique indexed order (`WHERE id > last ORDER
  BY id LIMIT 51`), so page 20,000 costs what page 1 costs, and rows added or removed while
  a client pages neither repeat nor hide the others. Clients follow `next` (an opaque
  `?cursor=`); a page number is refused with a 400 saying so, since an OFFSET deep into a
  million rows reads all the rows before it.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from annotate.counting import COUNT_CAP, BoundedCount, BoundedCountPaginator, count_bounded

COUNT_EXACT_SCHEMA = {
    "type": "boolean",
    "description": f"False when `count` is the database's estimate (past {COUNT_CAP:,} rows).",
}
BIGINT_MAX = 2**63 - 1


class BoundedCountPagination(PageNumberPagination):
    django_paginator_class = BoundedCountPaginator

    def get_paginated_response(self, data) -> Response:
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_exact": paginator.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count_exact"] = COUNT_EXACT_SCHEMA
        answer["required"] = [*answer.get("required", []), "count_exact"]
        return answer


class KeysetPagination(CursorPagination):
    """DRF's cursor pages over a unique integer key (`ordering`: "id" or "-id", the view's
    `ordering` or its OrderingFilter's), with the bounded count of the filtered rows."""

    ordering = "id"
    cursor_query_description = (
        "Where the page starts: copy it from the `next` or `previous` link of the page before."
    )
    # Query parameters a client of page numbers sends, and what to do instead.
    refused_query_params = {
        "page": (
            "This list pages with a cursor, not page numbers: follow the `next` link of each "
            "answer (it carries `cursor=`) until it is null."
        )
    }

    def paginate_queryset(self, queryset, request, view=None):
        for name, message in self.refused_query_params.items():
            if name in request.query_params:
                raise ValidationError({name: [message]})
        self.bounded = count_bounded(queryset)
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except Exception as error:  # NotFound from DRF for a cursor it cannot read
            raise self._invalid() from error
        if cursor is not None and cursor.position is not None:
            position = cursor.position
            if not (position.isascii() and position.isdigit() and int(position) <= BIGINT_MAX):
                raise self._invalid()
        return cursor

    def _invalid(self) -> ValidationError:
        return ValidationError(
            {
                self.cursor_query_param: [
                    "Not a cursor of this list: use the `next` or `previous` link of an answer "
                    "as it is, or leave `cursor` out for the first page."
                ]
            }
        )

    def get_paginated_response(self, data) -> Response:
        bounded: BoundedCount = self.bounded
        return Response(
            {
                "count": bounded.value,
                "count_exact": bounded.exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        answer = super().get_paginated_response_schema(schema)
        answer["properties"] = {
            "count": {
                "type": "integer",
                "example": 123,
                "description": "Rows matching the filters (all pages), exact or estimated.",
            },
            "count_exact": COUNT_EXACT_SCHEMA,
            **answer["properties"],
        }
        answer["properties"]["next"]["description"] = (
            "The next page (null on the last): follow it as it is."
        )
        answer["required"] = ["count", "count_exact", "next", "previous", "results"]
        return answer
