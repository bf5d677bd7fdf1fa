# The random audit share (annotate.queue.audit): which tasks a batch drew, in which claim order.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotate', '0009_propagation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='annotationtask',
            name='audit_drawn_at',
            field=models.DateTimeField(blank=True, help_text='When a batch drew the task for the random audit (empty: not an audit task).', null=True),
        ),
        migrations.AddField(
            model_name='annotationtask',
            name='audit_order',
            field=models.PositiveIntegerField(blank=True, help_text="Its place in the audit's random claim order.", null=True),
        ),
        migrations.AddIndex(
            model_name='annotationtask',
            index=models.Index(condition=models.Q(('audit_drawn_at__isnull', False)), fields=['project', 'state', 'audit_order', 'id'], name='task_audit_idx'),
        ),
        migrations.AddConstraint(
            model_name='annotationtask',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('audit_drawn_at__isnull', True), ('audit_order__isnull', True)), models.Q(('audit_drawn_at__isnull', False), ('audit_order__isnull', False)), _connector='OR'), name='task_audit_has_order'),
        ),
    ]
