"""Cohorts from real exports: reading files, recognising headers, per-video aggregation.

The reader is one pipeline for every table kind and format:

* :mod:`~kpi_core.cohorts.headers` proposes a canonical name for each header, with a confidence;
* :mod:`~kpi_core.cohorts.readers` reads CSV, Parquet, ``.xlsx`` and JSON / NDJSON in bounded
  batches (only the mapped columns, strings dictionary-encoded, cells capped, the stop flag
  honoured between batches, a memory budget enforced);
* :mod:`~kpi_core.cohorts.values` parses the text people export (``2.4M``, ``48,000``, ``3.5%``,
  ``mm:ss``, button labels) into numbers, counting every repair;
* :mod:`~kpi_core.cohorts.table` collects the parsed batches into columns;
* :mod:`~kpi_core.cohorts.videos` aggregates a per-video export per creator, vectorised;
* :mod:`~kpi_core.cohorts.creators` prepares a creator table (duplicates, period rescaling);
* :mod:`~kpi_core.cohorts.ingest` ties them together and writes the report
  (:mod:`~kpi_core.cohorts.report`).

Nothing here is imported by ``kpi_core``'s package ``__init__``: pandas and pyarrow load only
when a file is read.
"""
