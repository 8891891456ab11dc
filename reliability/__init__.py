"""Reliability campaigns: repeatable experiments that report figures, not only pass or fail.

Each campaign is a module with a ``run(size, seed, ...)`` function returning a dict of figures, a
pytest test at CI size (``pytest reliability -m campaign``) and a command line
(``python -m reliability.NAME --size N``) that prints the figures as one JSON line:

* :mod:`reliability.crash`: ``journeydsl run`` killed with SIGKILL at seeded points, restarted.
* :mod:`reliability.channel_faults`: channels failing transiently, permanently, timing out.
* :mod:`reliability.hostile`: fuzzed journeys, expressions, behaviour files and event lines.
* :mod:`reliability.hostile_journeys`: journeys as inputs (values that double and square
  themselves, catalog paths out of the folder, alias bombs), each checked and run in a child
  process held to 5 s and 500 MB.
* :mod:`reliability.upgrade`: a new journey version deployed with instances in flight.
* :mod:`reliability.state_format`: golden instance states of every state format still resume.

docs/reliability.md reports the full-size figures and how to reproduce them.
"""
