"""The rules of the sync. PURE: no clock, no I/O, no database, no HTTP (a contract checks it).

Everything rcsync *decides* is here, as functions from values to values, so each rule can
be read next to its table and tested with a table (habits 1, 2 and 11 of STYLE.md).

**The three-way state** (vdirsyncer's ``SqliteStatus``, OfflineIMAP's status folder,
mbsync's state file). Each synced field, read status and availability, is kept three
times: L, the local value a user edits; B, the base, the last value both sides agreed on;
R, the last value RingCentral reported. "Changed locally" is L != B and "changed
remotely" is R != B; the sides are never compared with each other. `merge.merge_field`
decides one field by that truth table; the conflict policy (`types.ConflictPolicy`)
settles a change on both sides, except that a remote purge always wins.

**The planner** (vdirsyncer's ``_get_actions``; reader's ``Decider``). `plan.plan_push`
turns what is pending (dirty messages and deleted rows, each with L, B and R) into a
`actions.Plan`: remote writes, database-only fixes, conflicts to record and deferrals.
The applier performs it and dry-run prints it, so what is printed is what would be done.
A trash is not idempotent (a second DELETE purges), so every trash candidate is verified
against RingCentral first and the plan made again with what it says
(`plan.trash_candidates`); a deletion is never inferred from absence.

Modules: `merge` (one field, the truth table), `actions` (the plan's vocabulary), `plan`
(the push planner), `records` (a RingCentral record -> the row and attachment values),
`listing` (the full pull's keyset cursor over the message list).
"""
