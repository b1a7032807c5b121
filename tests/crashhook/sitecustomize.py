"""Test only: make the crawler crash, or get a Ctrl-C, at a chosen place, in every process.

tests/test_cli_exits.py puts this directory first on ``PYTHONPATH`` for the CLI it runs, so
this file is loaded instead of ``tests/netguard/sitecustomize.py`` (Python loads one
``sitecustomize``); it installs the network guard as that one does. Then, for
``module:attribute`` (``attribute`` may be ``Class.method``):

- ``CRAWLER_TEST_CRASH``: calling it raises ``ZeroDivisionError``;
- ``CRAWLER_TEST_INTERRUPT``: calling it sends this process a real SIGINT first (a generator
  after its first piece, so that a file is half written), then does its work.

Spawned ``--jobs`` processes load it too. The crawler itself has no such switch.
"""

import functools
import importlib
import inspect
import os
import signal

import netguard

netguard.install()


def _patch(where: str, wrap) -> None:
    module_name, path = where.split(":")
    *owners, name = path.split(".")
    owner = importlib.import_module(module_name)
    for attribute in owners:
        owner = getattr(owner, attribute)
    setattr(owner, name, functools.wraps(getattr(owner, name))(wrap(getattr(owner, name))))


def _crashing(original):
    def crash(*args, **kwargs):
        raise ZeroDivisionError(f"injected by the test into {original.__qualname__}")

    return crash


def _interrupting(original):
    def ctrl_c() -> None:
        os.kill(os.getpid(), signal.SIGINT)

    if inspect.isgeneratorfunction(original):

        def pieces(*args, **kwargs):
            for i, piece in enumerate(original(*args, **kwargs)):
                yield piece
                if i == 0:
                    ctrl_c()

        return pieces

    def call(*args, **kwargs):
        ctrl_c()
        return original(*args, **kwargs)

    return call


if os.environ.get("CRAWLER_TEST_CRASH"):
    _patch(os.environ["CRAWLER_TEST_CRASH"], _crashing)
if os.environ.get("CRAWLER_TEST_INTERRUPT"):
    _patch(os.environ["CRAWLER_TEST_INTERRUPT"], _interrupting)
