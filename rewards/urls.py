"""Routes of the rewards app. ``manager`` is mounted at /w/<slug>/rewards/, ``portal`` at
/portal/<slug>/rewards/; API resources are registered in advocacy/api/urls.py."""

from django.urls import path  # noqa: F401 - used as routes are added

manager: list = []
portal: list = []
