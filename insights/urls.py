"""Routes of the insights pages, mounted at /w/<slug>/insights/; the metrics API is in
advocacy/api/urls.py."""

from django.urls import path  # noqa: F401

manager: list = []
