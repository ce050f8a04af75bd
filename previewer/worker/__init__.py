"""Worker processes: one per slot of a queue, each importing only what its queue needs.

Kept empty on purpose: ``python -m previewer.worker <queue>`` must not import aiohttp, fitz or av
unless its queue renders with them.
"""
