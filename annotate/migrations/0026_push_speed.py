"""The asset lookup of a prediction push (activelearn.predictions.push), by external key or
file name within a project, compared bytewise: COLLATE "C" (see Asset.Meta.indexes)."""

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0025_queue_fillfactor"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="asset",
            index=models.Index(
                models.F("project"),
                django.db.models.functions.comparison.Collate("external_key", "C"),
                name="asset_project_key_c",
            ),
        ),
        migrations.AddIndex(
            model_name="asset",
            index=models.Index(
                models.F("project"),
                django.db.models.functions.comparison.Collate("original_name", "C"),
                name="asset_project_name_c",
            ),
        ),
    ]
