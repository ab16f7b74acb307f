"""Passages and vectors: cut documents into passages, embed them, store a FAISS index folder.

Second stage of corpus -> index -> rag -> ui. Imports `corpus`, never `rag` or `ui`.
"""
