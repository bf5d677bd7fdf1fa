"""Reading pushed rows: dicts (a JSON list parsed by the API), single lines (str or bytes),
or a JSON Lines body as blocks of bytes (`JsonLinesBody`). Yields batches of
(row number, row, error); a row number is the line number, blank lines counted, and an error
says why a line is not a row.

A body's lines are parsed with orjson, one C call per line and no Python per line; a line it
does not take (NaN, a syntax error, bad UTF-8, a number orjson reads differently from the
standard library: integers past 64 bits) is read again by the standard library's parser, as
every line was before, so a refused line gets the same message as it always did.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from activelearn.predictions.rows import RowError
from annotate.batching import batched

Batch = list[tuple[int, dict | None, str | None]]


@dataclass
class JsonLinesBody:
    """A JSON Lines body as blocks of bytes, in order (any block size; lines may span
    blocks)."""

    blocks: Iterable[bytes]


def _reject_constant(name: str) -> float:
    raise RowError(f"{name} is not a number; NaN and infinities are refused")


# One scanner for the whole push (json.loads builds a decoder per line and matches the
# surrounding whitespace with a regular expression): the C scanner, the same parser.
_SCAN = json.scanner.make_scanner(json.JSONDecoder(parse_constant=_reject_constant))
_JSON_SPACE = " \t\n\r"
# orjson reads integers past 64 bits as floats, the standard library as ints: lines with 20
# digits in a row are left to the standard library. A block is searched with translate and
# find (every digit made NUL, then 20 NULs looked for: a tenth of the regular expression's
# time; a NUL in the text, never valid JSON, at worst sends its lines the slow way).
_LONG_DIGITS = re.compile(rb"\d{20}")
_DIGITS_AS_NUL = bytes.maketrans(b"0123456789", bytes(10))
_NUL_RUN = bytes(20)


def _has_long_digits(text: bytes) -> bool:
    return text.translate(_DIGITS_AS_NUL).find(_NUL_RUN) >= 0


def _decode(text: str) -> object:
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        value, end = _SCAN(text, start)
    except StopIteration:
        value, end = None, -1
    if end < 0 or text[end:].strip(_JSON_SPACE):
        # Not one JSON value: json.loads says what is wrong, in its own words.
        return json.loads(text, parse_constant=_reject_constant)
    return value


def _decode_bytes(line: bytes) -> object:
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return json.loads(line, parse_constant=_reject_constant)  # UTF-16/32, or an error
    return _decode(text)


def _one(number: int, item: object) -> tuple[int, dict | None, str | None] | None:
    """One item as (number, row, error); None for a blank line."""
    if isinstance(item, bytes | str):
        if not item.strip():
            return None
        try:
            item = _decode(item) if isinstance(item, str) else _decode_bytes(item)
        except RowError as error:
            return number, None, str(error)
        except ValueError as error:
            return number, None, f"not JSON: {error}"
    if not isinstance(item, dict):
        return number, None, "a row must be a JSON object"
    return number, item, None


def row_batches(source: Iterable | JsonLinesBody, size: int) -> Iterator[Batch]:
    """Batches of about `size` (number, row, error), blank lines left out."""
    if isinstance(source, JsonLinesBody):
        yield from _body_batches(source.blocks, size)
        return
    entries = (_one(number, item) for number, item in enumerate(source, start=1))
    yield from batched((entry for entry in entries if entry is not None), size)


def _body_batches(blocks: Iterable[bytes], size: int) -> Iterator[Batch]:
    """Batches of `size` lines, whatever the blocks' sizes: the lines a block leaves over wait
    for the next one (a batch costs the push per batch as well as per row)."""
    last = 0  # the number of the last line read
    pending: list[bytes] = []  # the start of a line not ended yet
    lines: list[bytes] = []  # whole lines not in a batch yet
    long_digits = False  # some of `lines` may hold 20 digits in a row
    for block in blocks:
        if not block:
            continue
        head, newline, tail = block.rpartition(b"\n")
        if not newline:
            pending.append(block)
            continue
        text = b"".join([*pending, head])
        pending = [tail]
        long_digits = long_digits or _has_long_digits(text)
        lines += text.split(b"\n")
        start = 0
        while len(lines) - start >= size:
            yield _lines_batch(lines[start : start + size], last + 1, long_digits=long_digits)
            start += size
            last += size
        lines = lines[start:]
        long_digits = long_digits and bool(lines)
    tail = b"".join(pending)
    if tail:
        lines.append(tail)
        long_digits = long_digits or _has_long_digits(tail)
    for start in range(0, len(lines), size):
        chunk = lines[start : start + size]
        yield _lines_batch(chunk, last + 1, long_digits=long_digits)
        last += len(chunk)


def _lines_batch(lines: list[bytes], first: int, *, long_digits: bool) -> Batch:
    """The lines' rows; `long_digits`: some line may hold 20 digits in a row."""
    try:
        if long_digits:
            raise ValueError
        values = list(map(orjson.loads, lines))
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        return _lines_one_by_one(lines, first)
    if all(type(value) is dict for value in values):
        return [(number, value, None) for number, value in enumerate(values, start=first)]
    return _lines_one_by_one(lines, first)


def _lines_one_by_one(lines: list[bytes], first: int) -> Batch:
    batch: Batch = []
    for number, line in enumerate(lines, start=first):
        if not _LONG_DIGITS.search(line):
            try:
                value = orjson.loads(line)
            except ValueError:
                pass
            else:
                if type(value) is dict:
                    batch.append((number, value, None))
                    continue
        entry = _one(number, line)
        if entry is not None:
            batch.append(entry)
    return batch
