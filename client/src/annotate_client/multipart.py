"""A multipart/form-data body read from the files while it is sent, so a 2 GiB video is never
held in memory. Its length is known before the first byte goes out (Content-Length, no
chunked encoding, which not every server reads), and each read is reported for progress."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLOCK = 256 * 1024


@dataclass(frozen=True)
class FilePart:
    field: str
    path: Path
    content_type: str = "application/octet-stream"
    filename: str | None = None  # default: the path's name


def _quoted(value: str) -> str:
    # As browsers send it: no line breaks, quotes escaped.
    return value.replace("\r", " ").replace("\n", " ").replace('"', "%22")


class MultipartBody:
    """Fields and files as one readable stream; `len()` is its exact size in bytes.

    on_read(n) is called with the size of every block of file content read."""

    def __init__(
        self,
        fields: list[tuple[str, str]],
        files: list[FilePart],
        *,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self.boundary = uuid.uuid4().hex
        self.on_read = on_read
        self._segments: list[bytes | tuple[Path, int]] = []
        dash = f"--{self.boundary}\r\n".encode()
        for name, value in fields:
            head = f'Content-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
            self._segments += [dash, head.encode(), value.encode(), b"\r\n"]
        for part in files:
            filename = part.filename or part.path.name
            head = (
                f'Content-Disposition: form-data; name="{_quoted(part.field)}"; '
                f'filename="{_quoted(filename)}"\r\nContent-Type: {part.content_type}\r\n\r\n'
            )
            size = os.stat(part.path).st_size
            self._segments += [dash, head.encode(), (part.path, size), b"\r\n"]
        self._segments.append(f"--{self.boundary}--\r\n".encode())
        self._length = sum(
            len(segment) if isinstance(segment, bytes) else segment[1] for segment in self._segments
        )
        self._index = 0
        self._offset = 0  # within a bytes segment
        self._file: BinaryIO | None = None
        self._file_left = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(BLOCK):
            yield block

    def read(self, size: int = -1) -> bytes:
        wanted = BLOCK if size is None or size < 0 else size
        out = bytearray()
        while len(out) < wanted and self._index < len(self._segments):
            segment = self._segments[self._index]
            if isinstance(segment, bytes):
                piece = segment[self._offset : self._offset + wanted - len(out)]
                out += piece
                self._offset += len(piece)
                if self._offset >= len(segment):
                    self._index, self._offset = self._index + 1, 0
                continue
            path, size_declared = segment
            if self._file is None:
                self._file = path.open("rb")
                self._file_left = size_declared
            piece = self._file.read(min(wanted - len(out), self._file_left))
            if not piece and self._file_left:
                self._close_file()
                raise OSError(f"{path} became shorter while it was being uploaded")
            out += piece
            self._file_left -= len(piece)
            if piece and self.on_read is not None:
                self.on_read(len(piece))
            if self._file_left == 0:
                self._close_file()
                self._index += 1
        return bytes(out)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._close_file()


class CountedStream:
    """A readable file of known length as a request body, each read reported to on_read."""

    def __init__(
        self, file: BinaryIO, length: int, *, on_read: Callable[[int], None] | None = None
    ) -> None:
        self._file = file
        self._length = length
        self.on_read = on_read

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(BLOCK):
            yield block

    def read(self, size: int = -1) -> bytes:
        block = self._file.read(BLOCK if size is None or size < 0 else size)
        if block and self.on_read is not None:
            self.on_read(len(block))
        return block
