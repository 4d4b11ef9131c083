"""The chunked UTF-8 check that landing (local exports) and the landed-file reader share."""

from __future__ import annotations

from gross_profit_assets.utf8 import utf8_problem


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_a_character_split_between_chunks_is_fine_and_lines_are_counted() -> None:
    text = "id,company\n1,Lechería\n2,Café".encode()
    for size in range(1, len(text) + 1):
        assert utf8_problem(chunks(text, size)) == (None, 3), size
    assert utf8_problem(chunks(text + b"\n", 4)) == (None, 3)  # a last newline ends the last line
    assert utf8_problem([]) == (None, 0)


def test_the_first_invalid_byte_is_named_with_its_offset_from_the_start_of_the_file() -> None:
    latin1 = "\ufeffid,company\n1,Café\n".encode() + "2,Lechería\n".encode("latin-1")  # BOM, then good
    offset = latin1.index(b"\xed")
    for size in (1, 3, 1 << 20):
        assert utf8_problem(chunks(latin1, size)) == (f"invalid byte 0xed at byte offset {offset}", 0)


def test_a_character_cut_off_at_the_end_is_a_problem() -> None:
    cut = "1,Caf".encode() + "é".encode()[:1]
    assert utf8_problem(chunks(cut, 2)) == (f"a character cut off at the end, byte offset {len(cut)}", 0)
