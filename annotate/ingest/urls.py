"""Pages of this area; the annotate URL map includes it."""

urlpatterns: list = []
