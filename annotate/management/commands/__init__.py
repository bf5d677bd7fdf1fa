"""manage.py commands: seed_demo (the demo project and users) and serve (the whole product)."""
