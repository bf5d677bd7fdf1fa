"""Export and import jobs take the one job model's fields (annotate.models.jobs.Job)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotate', '0005_task_indexes_partial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='exportjob',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='How many times a worker started it.'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='deadline_at',
            field=models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True),
        ),
        migrations.AddField(
            model_name='importjob',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='How many times a worker started it.'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='deadline_at',
            field=models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True),
        ),
        migrations.AlterField(
            model_name='exportjob',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.'),
        ),
        migrations.AlterField(
            model_name='exportjob',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.'),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='progress',
            field=models.FloatField(default=0.0, help_text='0 to 1.'),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10),
        ),
        migrations.AddIndex(
            model_name='exportjob',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='exportjob_live_idx'),
        ),
        migrations.AddIndex(
            model_name='importjob',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='importjob_live_idx'),
        ),
    ]
