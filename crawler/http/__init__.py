"""The engine's HTTP: every request a service makes, politely and safely.

``crawler.engine.Engine`` is the front; these are its parts, each one job:

- ``fetch``: one request and its redirects (every hop vetted and recorded, cookies kept,
  loops found), the body read up to a cap; the hot path, straight to the transport.
- ``retry``: what is asked again (transient errors, 429/502/503/504) and after how long
  (backoff with jitter, a server's Retry-After).
- ``gates``: per-host politeness: slots, spacing, Retry-After pauses, the limits a service
  declares or the user sets (its design in its docstring).
- ``resolve``: names to addresses, cached for a while, and the address guard
  (``crawler.safety``) judging them before the check and before every connection.
- ``budget``: one link's time budget as these parts see it: when it ends, and which waits
  (for the run's own slots and spacing) are not charged to it.
- ``errors``: plain words for a request that got no answer, and whether that is transient.

None of them imports the engine: it builds them and hands each what it needs.
"""
