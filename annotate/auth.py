"""Token authentication of the whole API ("Authorization: Token <key>"), in one plain SQL
statement.

DRF's TokenAuthentication builds its token-and-user query through the ORM on every request,
which cost next-task, the busiest endpoint, more CPU than the claim itself
(benchmarks/README.md). This subclass reads the same rows with the same checks and the same
error messages; nothing is cached across requests, so a deleted token or a deactivated user
is refused on the very next request. It is the only token authentication: settings and every
view use it.

The same statement reads the user's project roles, which nearly every API request asks for
next (annotate.permissions): one round trip to PostgreSQL instead of two. They are kept on
the user object of this request only, exactly as permissions.roles_by_project keeps them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.drainage import set_override
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotate import prepared
from annotate.models import Membership
from annotate.permissions import remember_roles

User = get_user_model()
_USER_COLUMNS = tuple(field.attname for field in User._meta.concrete_fields)
_SQL = (
    f"SELECT {', '.join(f'u.{column}' for column in _USER_COLUMNS)},"  # noqa: S608
    " r.projects, r.roles"
    f" FROM {Token._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id"
    " CROSS JOIN LATERAL (SELECT array_agg(m.project_id) AS projects, array_agg(m.role) AS roles"
    f" FROM {Membership._meta.db_table} m WHERE m.user_id = u.id) r"
    " WHERE t.key = %s"
)


class LeanTokenAuthentication(TokenAuthentication):
    """DRF's token scheme, its user read in one statement."""

    def authenticate_credentials(self, key):
        # Prepared on the server (annotate.prepared): every API request runs it.
        row = prepared.fetchone(_SQL, [key])
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        *columns, projects, roles = row
        user = User.from_db(connection.alias, _USER_COLUMNS, columns)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        remember_roles(user, dict(zip(projects or (), roles or (), strict=True)))
        return user, Token(key=key, user=user)


# The same "Authorization: Token <key>" scheme as DRF's: one entry in the OpenAPI schema.
set_override(LeanTokenAuthentication, "suppress_collision_warning", True)
