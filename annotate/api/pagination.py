"""Page-numbered lists whose count stays cheap on a big table (annotate.counting): exact up
to COUNT_CAP rows, the planner's estimate past it, and `count_exact` says which."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from annotate.counting import BoundedCountPaginator


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
        answer["properties"]["count_exact"] = {
            "type": "boolean",
            "description": "False when `count` is the database's estimate (past 10,000 rows).",
        }
        answer["required"] = [*answer.get("required", []), "count_exact"]
        return answer
