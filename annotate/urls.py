"""Pages of the annotate app."""

urlpatterns: list = []
