#!/usr/bin/env python
"""Django's command-line utility. With DATABASE_URL unset it first starts (or joins) the
embedded PostgreSQL under VAR_DIR, which stops again when the last command using it exits."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        from annotate.embedded.postgres import ensure_database_url

        ensure_database_url()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
