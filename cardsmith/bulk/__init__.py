"""Bulk runs: ``cardsmith audit --from SOURCE`` and ``cardsmith verify --from LIST``.

- :mod:`~cardsmith.bulk.sources` streams the items: a text file of paths, a folder tree, a Parquet or
  JSONL dump of cards (pyarrow batches, never all in memory), a CSV/JSONL list of repos with per-line
  options.
- :mod:`~cardsmith.bulk.items`: what a run hands around (an item, the run's settings, an item's result:
  one JSON line, the card report of the JSON format plus ``id`` and ``error``).
- :mod:`~cardsmith.bulk.run` is the ONE adapter between a bulk item and cardsmith's audit and verify:
  ``audit --from`` / ``verify --from`` set up, then one item in, its result out (:func:`~cardsmith.bulk.run.run_item`).
- :mod:`~cardsmith.bulk.engines` runs an item function over the items, whatever it is: ``local`` (a
  process pool with failure isolation) or ``ray`` (Ray tasks, and Ray Data over Parquet dumps); both
  give the same lines.
- :mod:`~cardsmith.bulk.output` appends each line as it arrives, resumes, and sums the run up.
- :mod:`~cardsmith.bulk.pipeline` runs an item function over a source with an engine into the output:
  resume, progress, Ctrl-C and SIGTERM, the summary.

Nothing here imports pyarrow or ray unless a run needs them: the plain audit path stays light.
"""
