"""The ``local`` PSA provider placeholder registration lives in a later issue."""
