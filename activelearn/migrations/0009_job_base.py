"""Scoring runs, retraining rounds and webhook deliveries take the one job model's fields and
states (annotate.models.jobs.Job). Old states are mapped: a round "training" is "running", a
delivery "pending" is "queued" and "delivered" is "done" (delivered_at becomes finished_at);
a failed row without an error gets its reason in words before the database requires one."""

from django.db import migrations, models
from django.db.models import F, Q


def forwards(apps, schema_editor):
    ScoringRun = apps.get_model("activelearn", "ScoringRun")
    RetrainingRound = apps.get_model("activelearn", "RetrainingRound")
    WebhookDelivery = apps.get_model("activelearn", "WebhookDelivery")
    WebhookAttempt = apps.get_model("activelearn", "WebhookAttempt")

    ScoringRun.objects.filter(state="done").update(progress=1.0)
    ScoringRun.objects.filter(state="running", chunks_total__gt=0).update(
        progress=F("chunks_done") * 1.0 / F("chunks_total")
    )
    ScoringRun.objects.filter(state="failed", error="").update(
        error="The scoring run failed for no stated reason."
    )

    RetrainingRound.objects.filter(state="training").update(state="running")
    RetrainingRound.objects.filter(state="done").update(progress=1.0)
    RetrainingRound.objects.filter(state="failed").exclude(note="").update(error=F("note"))
    RetrainingRound.objects.filter(state="failed", error="").update(
        error="The retraining round failed for no stated reason."
    )

    WebhookDelivery.objects.filter(state="pending").update(state="queued")
    WebhookDelivery.objects.filter(state="delivered").update(state="done", progress=1.0)
    for delivery in WebhookDelivery.objects.filter(state="failed", error=""):
        last = (
            WebhookAttempt.objects.filter(delivery=delivery)
            .exclude(error="")
            .order_by("-number")
            .values_list("error", flat=True)
            .first()
        )
        delivery.error = f"The last try failed: {last}" if last else "Every try failed."
        delivery.save(update_fields=["error"])


def backwards(apps, schema_editor):
    RetrainingRound = apps.get_model("activelearn", "RetrainingRound")
    WebhookDelivery = apps.get_model("activelearn", "WebhookDelivery")
    RetrainingRound.objects.filter(state="running").update(state="training")
    WebhookDelivery.objects.filter(Q(state="queued") | Q(state="running")).update(
        state="pending"
    )
    WebhookDelivery.objects.filter(state="done").update(state="delivered")


class Migration(migrations.Migration):

    dependencies = [
        ('activelearn', '0008_scoring_superseded_retrain_counts'),
        ('annotate', '0006_job_base'),
    ]

    operations = [
        migrations.RenameField(
            model_name='webhookdelivery',
            old_name='delivered_at',
            new_name='finished_at',
        ),
        migrations.AddField(
            model_name='retraininground',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='How many times a worker started it.'),
        ),
        migrations.AddField(
            model_name='retraininground',
            name='deadline_at',
            field=models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True),
        ),
        migrations.AddField(
            model_name='retraininground',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.'),
        ),
        migrations.AddField(
            model_name='retraininground',
            name='progress',
            field=models.FloatField(default=0.0, help_text='0 to 1.'),
        ),
        migrations.AddField(
            model_name='retraininground',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='scoringrun',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='How many times a worker started it.'),
        ),
        migrations.AddField(
            model_name='scoringrun',
            name='deadline_at',
            field=models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True),
        ),
        migrations.AddField(
            model_name='scoringrun',
            name='progress',
            field=models.FloatField(default=0.0, help_text='0 to 1.'),
        ),
        migrations.AddField(
            model_name='scoringrun',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='deadline_at',
            field=models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='progress',
            field=models.FloatField(default=0.0, help_text='0 to 1.'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='retraininground',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10),
        ),
        migrations.AlterField(
            model_name='scoringrun',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.'),
        ),
        migrations.AlterField(
            model_name='scoringrun',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='How many times a worker started it.'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddIndex(
            model_name='retraininground',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='retraininground_live_idx'),
        ),
        migrations.AddIndex(
            model_name='scoringrun',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='scoringrun_live_idx'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='webhookdelivery_live_idx'),
        ),
        migrations.AddConstraint(
            model_name='retraininground',
            constraint=models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='retraininground_progress_range'),
        ),
        migrations.AddConstraint(
            model_name='retraininground',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'failed'), _negated=True), models.Q(('error', ''), _negated=True), _connector='OR'), name='retraininground_failure_has_error'),
        ),
        migrations.AddConstraint(
            model_name='scoringrun',
            constraint=models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='scoringrun_progress_range'),
        ),
        migrations.AddConstraint(
            model_name='scoringrun',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'failed'), _negated=True), models.Q(('error', ''), _negated=True), _connector='OR'), name='scoringrun_failure_has_error'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='webhookdelivery_progress_range'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'failed'), _negated=True), models.Q(('error', ''), _negated=True), _connector='OR'), name='webhookdelivery_failure_has_error'),
        ),
    ]
