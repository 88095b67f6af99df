"""Filters of the web lists, on django-filter like the API's: input that does not parse is dropped."""

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone

from stockledger.core.models import AuditLog
from stockledger.stock.selectors import BatchFilter


class InventoryPageFilter(BatchFilter):
    """The API's batch filters plus the page's own: expiring within N days and a free-text search."""

    expiring_within = django_filters.NumberFilter(method="filter_expiring", min_value=0)
    q = django_filters.CharFilter(method="search")

    def filter_expiring(self, qs, name, value):
        return qs.filter(expiry_date__lte=timezone.localdate() + timedelta(days=int(value)))

    def search(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(batch_no__icontains=value) | Q(item__name__icontains=value) | Q(item__sku__icontains=value))


class AuditFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    user = django_filters.CharFilter(field_name="actor_name", lookup_expr="icontains")
    action = django_filters.CharFilter(lookup_expr="icontains")
    date_from = django_filters.DateFilter(field_name="created_at__date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="created_at__date", lookup_expr="lte")
    job = django_filters.CharFilter(field_name="job_id")

    class Meta:
        model = AuditLog
        fields = ["object_type", "object_id", "user", "action", "date_from", "date_to", "job"]
