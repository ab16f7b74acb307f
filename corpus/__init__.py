"""Documents in: read course readings from a folder into `Document` objects.

This is the first stage of the flow corpus -> index -> rag -> ui. It imports nothing
from the later stages.
"""
