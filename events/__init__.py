"""The contract of Tally: event models, the envelope, the codec and the stream layout.

This package imports nothing else of ours; every other package may import it.
"""
