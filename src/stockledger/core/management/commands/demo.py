"""Load the demo data set once (idempotent): users for every role, then each app's demo data."""

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from stockledger.core.roles import Role

DEMO_USERS = {
    "admin": Role.ADMIN,
    "manager": Role.LOGISTICS_MANAGER,
    "officer": Role.LOGISTICS_OFFICER,
    "clerk": Role.INVENTORY_CLERK,
    "sales": Role.SALES,
    "reader": Role.READER,
}


def demo_password(username: str) -> str:
    return f"{username}-demo-1"


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and create one demo user per role, printing their passwords."

    def handle(self, **opts):
        User = get_user_model()
        with transaction.atomic():
            for name, role in DEMO_USERS.items():
                if not User.objects.filter(username=name).exists():
                    call_command(
                        "createuser",
                        name,
                        role=role.value,
                        password=demo_password(name),
                        stdout=io.StringIO(),
                    )
            from stockledger.core.demo import load_all

            loaded = load_all(User.objects.get(username="admin"))
        self.stdout.write("Demo data: " + ("; ".join(loaded) if loaded else "already loaded"))
        self.stdout.write("Demo users (username / password / role):")
        for name, role in DEMO_USERS.items():
            self.stdout.write(f"  {name:8} / {demo_password(name):15} / {role.value}")
