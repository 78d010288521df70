"""Routes of the NPS app: ``manager`` at /w/<slug>/nps/, ``portal`` at /portal/<slug>/nps/,
``public`` (the /s/<token> answer page) at the site root; the API in advocacy/api/urls.py."""

from django.urls import path  # noqa: F401

manager: list = []
portal: list = []
public: list = []
