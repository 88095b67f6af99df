import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web app and API: gunicorn (workers from the core count) with whitenoise; --dev for runserver."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--workers", type=int, default=None)
        parser.add_argument("--dev", action="store_true", help="Django's autoreloading development server")
        parser.add_argument("--no-collectstatic", action="store_true")

    def handle(self, host, port, workers, dev, no_collectstatic, **opts):
        if dev:
            call_command("runserver", f"{host}:{port}")
            return
        if not no_collectstatic:
            call_command("collectstatic", interactive=False, verbosity=0)
        workers = workers or (os.cpu_count() or 1) * 2 + 1
        argv = [
            "gunicorn",
            "stockledger.config.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--timeout",
            "120",
            "--graceful-timeout",
            "20",
        ]
        self.stdout.write(f"stockledger on http://{host}:{port}/ ({workers} workers)")
        sys.stdout.flush()
        os.execvp(sys.executable, [sys.executable, "-m", *argv])
