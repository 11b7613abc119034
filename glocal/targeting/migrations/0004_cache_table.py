"""The database cache's table (``CACHES`` without ``REDIS_URL``/``CACHE_URL``: Django's DatabaseCache),
where the public forms' single-use stamps and rate-limit counters live, shared by every process. Created
here so that ``migrate`` (``make demo``, the tests) is enough; with Redis configured nothing is created."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("targeting", "0003_pending_sms_confirmation")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
