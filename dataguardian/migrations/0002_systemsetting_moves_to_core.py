# SystemSetting now belongs to the ``core`` app (core/migrations/0001_initial.py); its table
# is kept as it is.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dataguardian', '0001_initial'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='SystemSetting')],
            database_operations=[],
        ),
    ]
