"""Signals of the programs app (see advocacy/signals.py for the rule: receivers refresh
caches only).

- ``program_changed(program, changed)``: after a program's fields changed and the
  transaction committed. Referrals forgets the program's cached /r/ codes when its status
  or landing URL changed.
- ``assignment_approved(assignment)``: after an assignment was approved and the transaction
  committed. Insights refreshes the advocate's score.
- ``outcome_changed(outcome, previous_decided_at)``: after an outcome was recorded or
  changed and the transaction committed. Insights marks its created and decided days
  (and the previous decided day) for its rollup.
"""

from django.dispatch import Signal

program_changed = Signal()
assignment_approved = Signal()
outcome_changed = Signal()
