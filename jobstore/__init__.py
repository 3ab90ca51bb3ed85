"""The job data: the ledger (SQLite), download tokens and links, retention.

One owner for every photo and row on disk; the kiosk and the share server both use it and never
import each other. Who may write what is written down in `jobstore/ledger.py`.
"""
