"""The shared kernel: the few concepts every feature may use, and no feature owns.

The acting principal (``principal``), domain errors (``errors``), id rules (``ids``), the
data-dir lock and runtime file (``runtime_file``), the write-ahead log that ingest writes
and the indexer reads (``wal``), the control database (``control_db``), and the one
migration runner and transaction helper (``migrations``, ``transaction``); the feature
contract (``feature``) and the typed application state its lifespans fill (``state``); the
one parser of API-key credentials, query-parameter rules and time format. Nothing here
imports a feature or an adapter.
"""
