"""The embedded services of a fresh checkout: a private PostgreSQL and a private Redis,
started when DATABASE_URL / REDIS_URL are unset. Imports nothing of Django."""
