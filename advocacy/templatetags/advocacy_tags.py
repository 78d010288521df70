from django import template
from django.urls import reverse

from ..models import Membership

register = template.Library()


@register.simple_tag(takes_context=True)
def user_memberships(context):
    request = context["request"]
    return list(Membership.objects.filter(user=request.user).select_related("workspace").order_by("workspace__name"))


@register.simple_tag(takes_context=True)
def nav_current(context, name: str, *args) -> str:
    """aria-current="page" when the request is on (or below) this named URL."""
    request = context["request"]
    url = reverse(name, args=args)
    if request.path == url or (url.count("/") > 3 and request.path.startswith(url)):
        return 'aria-current="page"'
    return ""


@register.filter
def stage_badge(stage: str) -> str:
    return f"badge stage-{stage}"
