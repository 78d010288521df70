"""Signals the core sends so higher floors can keep what they cache in step, without the
core importing them (ARCHITECTURE.md: dependencies point down). Receivers only refresh
caches; no business rule lives in a receiver.

- ``advocate_stage_changed(advocate)``: after an advocate's stage changed (or they were
  erased) and the transaction committed. Referrals forgets the advocate's cached /r/ codes.
- ``advocate_erased(advocate)``: inside the erasure's transaction, so each app above the
  core blanks the person's free text it holds (NPS comments) in the same commit.
- ``events_recorded(workspace, advocate_ids, days)``: after a batch of activity events was
  stored and the transaction committed (``days``: the local days they occurred on).
  Insights refreshes those people's scores (one task) and marks past days for its rollup.
"""

from django.dispatch import Signal

advocate_stage_changed = Signal()
advocate_erased = Signal()
events_recorded = Signal()
