# The audit share and stop threshold settings, the audit measurement job and the stop recommendation.

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('activelearn', '0011_auto_strategy'),
        ('annotate', '0010_audit'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('skipped', 'Skipped')], default='queued', max_length=10)),
                ('progress', models.FloatField(default=0.0, help_text='0 to 1.')),
                ('error', models.TextField(blank=True, help_text='Why it failed, or why it waits, in words.')),
                ('attempts', models.PositiveIntegerField(default=0, help_text='How many times a worker started it.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('deadline_at', models.DateTimeField(blank=True, help_text="When the sweep acts unless the job is heard from first: sends a queued job again, or takes a running one's worker for dead. Moved on by each progress report. Empty: the creation time plus a couple of minutes.", null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('labels', models.PositiveIntegerField(default=0, help_text='Labels counted when it measured.')),
                ('figures', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['-created_at'],
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='StopRecommendation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('labels', models.PositiveIntegerField(help_text='Labels counted when it was made.')),
                ('metric', models.CharField(max_length=20)),
                ('gain_per_1000', models.FloatField(help_text='The forecast gain of the next 1,000 labels.')),
                ('gain_per_1000_high', models.FloatField(help_text='The top of its 95% interval.')),
                ('threshold', models.FloatField(help_text="The project's stop_gain_per_1000 then.")),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.AddField(
            model_name='learningsettings',
            name='audit_share',
            field=models.FloatField(default=0.1, help_text="Share of every scoring run's batch drawn uniformly from the pool and of claims that take one (0 to 0.5): the audit labels that measure the model honestly. The built-in baseline never trains on them. 0 turns the audit off.", validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(0.5)]),
        ),
        migrations.AddField(
            model_name='learningsettings',
            name='stop_gain_per_1000',
            field=models.FloatField(default=0.005, help_text='Recommend stopping when the forecast gain of the metric per 1,000 more labels is, at the top of its 95% interval, below this (0.005: half a point of accuracy). 0 never recommends stopping.', validators=[django.core.validators.MinValueValidator(0.0)]),
        ),
        migrations.AddConstraint(
            model_name='learningsettings',
            constraint=models.CheckConstraint(condition=models.Q(('audit_share__gte', 0), ('audit_share__lte', 0.5)), name='learning_audit_share_range'),
        ),
        migrations.AddConstraint(
            model_name='learningsettings',
            constraint=models.CheckConstraint(condition=models.Q(('stop_gain_per_1000__gte', 0)), name='learning_stop_gain_nonneg'),
        ),
        migrations.AddField(
            model_name='auditreport',
            name='model_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='activelearn.modelversion'),
        ),
        migrations.AddField(
            model_name='auditreport',
            name='project',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='audit_reports', to='annotate.project'),
        ),
        migrations.AddField(
            model_name='stoprecommendation',
            name='project',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='stop_recommendation', to='annotate.project'),
        ),
        migrations.AddField(
            model_name='stoprecommendation',
            name='report',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='activelearn.auditreport'),
        ),
        migrations.AddIndex(
            model_name='auditreport',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running'])), fields=['state', 'deadline_at'], name='auditreport_live_idx'),
        ),
        migrations.AddConstraint(
            model_name='auditreport',
            constraint=models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='auditreport_progress_range'),
        ),
        migrations.AddConstraint(
            model_name='auditreport',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'failed'), _negated=True), models.Q(('error', ''), _negated=True), _connector='OR'), name='auditreport_failure_has_error'),
        ),
    ]
