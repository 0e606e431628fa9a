"""Live push: every committed change reaches every allowed viewer, and nothing is missed.

The database is the history (the `event` table, gap-free `seq` per incident). The bus
(app/bus.py) carries wake-ups only; the hub reads new events once per incident and wake-up,
renders them once per audience through the same viewer filter as every other path, and fans
them out to bounded per-socket queues. This and the bus's listener are the only async code in
the app.
"""
