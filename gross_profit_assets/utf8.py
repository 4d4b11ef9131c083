"""UTF-8 checks of bytes that arrive a chunk at a time (landed objects, local exports)."""

from __future__ import annotations

import codecs
from collections.abc import Iterable


def utf8_problem(chunks: Iterable[bytes]) -> tuple[str | None, int]:
    """(where the bytes stop being UTF-8, or None when they never do; how many lines they
    hold), in one pass, a chunk at a time. Offsets count bytes from the start (a BOM
    included); the line count is 0 when there is a problem."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines, last = 0, 0, b"\n"
    for chunk in chunks:
        # The decoder holds back the start of a character cut by the chunk's end, and reports
        # an error's place in those bytes and the chunk together.
        pending = decoder.getstate()[0]
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            data = pending + chunk
            return f"invalid byte 0x{data[exc.start]:02x} at byte offset {offset - len(pending) + exc.start}", 0
        offset += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:] or last
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"a character cut off at the end, byte offset {offset}", 0
    return None, lines + (last != b"\n")
