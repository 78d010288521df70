"""Signals of the referrals app (see advocacy/signals.py for the rule: receivers refresh
caches or derived values only).

- ``conversion_recorded(conversion)``: after a new conversion was recorded and the
  transaction committed (``conversion.referral_id`` is set when it was attributed).
  Insights refreshes the referrer's score.
"""

from django.dispatch import Signal

conversion_recorded = Signal()
