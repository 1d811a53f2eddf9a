"""Simulated upstream systems (sandboxes): realistic seeded data, switchable faults.

Each built-in connector ships an ASGI app speaking its upstream's protocol. ``faults`` is the
shared fault switchboard; ``world`` derives every sandbox's data from the hub's demo generator, so
that the same enterprises, projects, workers and complainants appear in every system.
"""
