from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from stockledger.core.roles import roles_of


@login_required
def home(request):
    return render(request, "web/home.html", {"roles": sorted(roles_of(request.user))})
