"""Torture harness and checker (Jepsen bank/ledger style): real server, many clients, faults, one verdict.

run.py drives a run, ops/ holds the pluggable operation generators, checker.py judges the history
against the final database. See docs/RELIABILITY.md.
"""
