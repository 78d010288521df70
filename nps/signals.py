"""Signals of the NPS app (advocacy/signals.py has the rule: receivers refresh what they
cache or compute; no business rule lives in a receiver).

- ``response_recorded(response, created, previous_category)``: after an answer was
  recorded or changed (a score, a comment, an integration's answer) and the transaction
  committed. The insights floor listens to refresh the person's advocacy score (their
  latest NPS category is one of its signals).
"""

from django.dispatch import Signal

response_recorded = Signal()
