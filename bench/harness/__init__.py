"""The benchmark harness behind bench/run: processes, the sink, Postfix, smarthost, scenarios and the report.

Everything it starts runs on loopback under one temporary directory and is stopped by process id when a
measurement ends (or when the run is interrupted). Nothing here is used by the unit or integration tests.
"""
