"""One JSON object of a report read strictly: each field by its type, or a ``ValueError``
naming where it is (``report.links[3].status``). ``decode`` and ``previous`` read with it."""

from __future__ import annotations

import math
from typing import Any


class Reader:
    """Typed access to one JSON object, naming the path of whatever is wrong."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        self.data = data
        self.where = where

    def _value(self, key: str, default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise ValueError(f"{self.where}.{key}: missing")
            return default
        return self.data[key]

    def text(self, key: str, *, optional: bool = False) -> Any:
        value = self._value(key, None, not optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{self.where}.{key}: expected a string, got {value!r:.60}")
        return value

    def integer(
        self, key: str, *, optional: bool = False, default: int = 0, required: bool = False
    ) -> Any:
        value = self._value(key, None if optional else default, required)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.where}.{key}: expected an integer, got {value!r:.60}")
        return value

    def count(self, key: str, *, optional: bool = False) -> Any:
        """A whole number, 0 or more (a failure streak, seconds, bytes)."""
        value = self.integer(key, optional=optional)
        if value is not None and value < 0:
            raise ValueError(f"{self.where}.{key}: expected 0 or more, got {value!r:.60}")
        return value

    def number(self, key: str) -> float:
        value = self._value(key, None, True)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{self.where}.{key}: expected a number, got {value!r:.60}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._value(key, default, False)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where}.{key}: expected true or false, got {value!r:.60}")
        return value

    def items(self, key: str, *, required: bool = True) -> list[Any]:
        value = self._value(key, [], required)
        if not isinstance(value, list):
            raise ValueError(f"{self.where}.{key}: expected a list, got {value!r:.60}")
        return value

    def texts(self, key: str, *, required: bool = True) -> list[str]:
        items = self.items(key, required=required)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ValueError(f"{self.where}.{key}[{i}]: expected a string, got {item!r:.60}")
        return items

    def choice(self, key: str, choices: tuple[str, ...], *, optional: bool = False) -> Any:
        value = self.text(key, optional=optional)
        if value is None and optional:
            return None
        if value not in choices:
            raise ValueError(
                f"{self.where}.{key}: {value!r:.60} is not one of {', '.join(choices)}"
            )
        return value

    def obj(self, key: str) -> Reader:
        return Reader(self._value(key, None, True), f"{self.where}.{key}")
