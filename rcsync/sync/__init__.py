"""The sync engine: composition only. It calls the rules, the store and the API; no SQL text.

The pipelines, as pseudocode (each arrow a committed step, so a crash replays, never skips):

    pull(engine, client, config):                              # pull.py
        if no sync token, --full, or the frame changed:        # full pull
            T0 <- FSync(dateFrom = history_start, recordCount = 1)
            for page in list(keyset cursor, newest first):     # rules.listing
                save records (three-way merge per field)       # store.messages
                commit page + cursor                            # one transaction
            records, T <- ISync(T0)                            # what changed meanwhile
        else:
            records, T <- ISync(sync token)                    # incremental
        save records; commit T with them                       # the cursor commits with the data
        then the attachments (pull_attachments)                # attachments.py, edits first

    push(engine, client, config):                              # push.py
        settle writes left in flight by a crash                # apply.recover_in_flight
        pending <- store.pending                               # O(pending)
        plan <- rules.plan.plan_push(pending, policy)          # pure
        refuse mass deletes beyond delete_guard (unless --force)
        re-read every trash candidate; plan again with it      # a second DELETE purges
        apply(plan): fixes, then writes in batches, each answer saved at once   # apply.py
        dry-run: the same up to the re-reads, then print the plan instead

    sync(engine, client, config):                              # reconcile.py
        settle journal -> ISync (if a token) -> push -> ISync (if it wrote, or the
        full pull) -> attachments, pushing edits made meanwhile between downloads

    before each download:                                      # edits_first.py
        watch: stop the phase if an edit waits or a pull is due
        sync: push edits newer than the phase first
        wait while the write group's window has no more free than pending edits need + 2

Modules: `pull`, `push`, `apply` (the only place that both calls the API and writes the
database, with its in-flight journal), `reconcile` (sync), `attachments` (downloads),
`edits_first` (what the attachment phase checks before each download),
`prefetch` (the next listing page is fetched while one is written). `rcsync.watch` runs
push and pull as a daemon.
"""
