"""Prediction.created_at defaults to the time of the statement that stores the row, in the
database: a push's COPY leaves the column out (activelearn.predictions.push)."""

import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("activelearn", "0016_prediction_storage"),
    ]

    operations = [
        migrations.AlterField(
            model_name="prediction",
            name="created_at",
            field=models.DateTimeField(
                auto_now_add=True, db_default=django.db.models.functions.datetime.Now()
            ),
        ),
    ]
