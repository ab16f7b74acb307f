"""Show answers: the `rag` command line, the chat app and the HTTP API.

Last stage of corpus -> index -> rag -> ui. Nothing upstream imports from here.
"""
