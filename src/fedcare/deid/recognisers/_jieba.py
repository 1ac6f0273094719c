"""jieba, loaded once (on first use): word segmentation with part-of-speech tags."""

from __future__ import annotations

import functools
import logging
from typing import Any

# ---------------------------------------------------------------- jieba

@functools.cache
def _posseg() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg


def _jieba_tokens(text: str) -> list[tuple[int, str, str]]:
    """(start, word, POS flag) for every jieba token, positions in ``text``."""
    return _jieba_cached(text)


@functools.lru_cache(maxsize=64)
def _jieba_cached(text: str) -> list[tuple[int, str, str]]:
    out = []
    pos = 0
    for pair in _posseg().cut(text):
        word, flag = pair.word, pair.flag
        found = text.find(word, pos)
        if found < 0:
            continue
        out.append((found, word, flag))
        pos = found + len(word)
    return out


