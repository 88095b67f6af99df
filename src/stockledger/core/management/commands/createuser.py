from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from stockledger.catalog.models import Warehouse, WarehouseAssignment
from stockledger.core import audit
from stockledger.core.roles import Role


class Command(BaseCommand):
    help = "Create (or update) a user with a role: stockledger createuser NAME --role ROLE --password PW"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--warehouse",
            action="append",
            default=[],
            help="warehouse code the user is limited to (repeatable); none = everywhere",
        )

    @transaction.atomic
    def handle(self, username, role, password, email, warehouse, **opts):
        if len(password) < 8:
            raise CommandError("The password must have at least 8 characters.")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"email": email})
        user.set_password(password)
        user.is_staff = role == Role.ADMIN
        user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        codes = set(warehouse)
        found = {w.code: w for w in Warehouse.objects.filter(code__in=codes)}
        if missing := codes - set(found):
            raise CommandError(f"Unknown warehouse code(s): {', '.join(sorted(missing))}")
        WarehouseAssignment.objects.filter(user=user).exclude(warehouse__code__in=codes).delete()
        for w in found.values():
            WarehouseAssignment.objects.get_or_create(user=user, warehouse=w)
        audit.record(
            "createuser",
            "user.create" if created else "user.update",
            "user",
            user.pk,
            None,
            {"username": username, "role": role, "warehouses": sorted(codes)},
        )
        self.stdout.write(f"{'Created' if created else 'Updated'} user {username} with role {role}.")
