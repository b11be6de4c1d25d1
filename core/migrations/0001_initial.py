# SystemSetting moved here from the project package: the table (``system_settings``) stays
# where it is; only Django's record of which app owns the model changes.

import core.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('dataguardian', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SystemSetting',
                    fields=[
                        ('key', models.CharField(max_length=100, primary_key=True, serialize=False)),
                        ('value', core.fields.EncryptedConfigField(blank=True, null=True, encrypted_keys_from='core.system_settings.secret_fields')),
                        ('description', models.TextField(blank=True, default='')),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'system_settings',
                        'ordering': ['key'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
