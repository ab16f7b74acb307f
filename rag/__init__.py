"""Retrieve and answer: find passages for a question and quote the sentences that answer it.

Third stage of corpus -> index -> rag -> ui. Imports `corpus` and `index`, never `ui`.
"""
