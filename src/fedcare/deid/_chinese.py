"""Traditional Chinese read as simplified (OpenCC's ``t2s``), with positions kept."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["simplified"]


@functools.cache
def _converter() -> Any:
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a dependency
        return None
    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """``text`` with traditional Chinese characters in their simplified forms (OpenCC's
    ``t2s``), so that jieba's dictionary, the surname lists, the place names and the labels
    read Hong Kong, Macau and Taiwan notes as they read mainland ones (劉文傑 -> 刘文杰,
    電話 -> 电话).  Only when every character maps to one character: positions must stay
    those of ``text``; otherwise, or without OpenCC, ``text`` itself."""
    converter = _converter()
    if converter is None:
        return text
    out: str = converter.convert(text)
    return out if len(out) == len(text) else text
