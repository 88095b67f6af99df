from django.db import migrations

from stockledger.core.dbguards import append_only_migration

ROLES = ["ADMIN", "LOGISTICS_MANAGER", "LOGISTICS_OFFICER", "INVENTORY_CLERK", "SALES", "READER"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(create_roles, drop_roles),
        append_only_migration("core_auditlog"),
    ]
