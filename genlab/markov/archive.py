"""Reading a model file's zip of .npy arrays with every size checked before memory is spent.

A .markov file may come from anywhere: a zip member can claim, or really inflate to,
gigabytes, and a .npy header can claim any shape. So the zip directory is checked before
zipfile reads it, each member's declared size must be one deflate can give from its stored
bytes and stay under the ceiling the caller derives from the model's header, a .npy header
must describe exactly the bytes that follow it, and data is read in pieces into an array
allocated only then. Every failure is a Damaged(reason); the caller names the file.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

MAX_MEMBERS = 64  # a model of order 8 with every depth renumbered has 50
MAX_DIRECTORY = MAX_MEMBERS * 1024  # bytes of zip directory that many members can need
DEFLATE_MOST = 1032  # no deflate stream inflates to more than this many bytes per stored byte
NPY_HEADER_MOST = 4096
PIECE = 1 << 20


class Damaged(Exception):
    """The file is not a sound model file; the message says why, without the file's name."""


class Archive:
    """The members of an open model file (a zip of .npy files), by name without ".npy"."""

    def __init__(self, fh: BinaryIO, size: int):
        directory = _directory_size(fh, size)
        if directory is not None and directory > MAX_DIRECTORY:
            raise Damaged(f"its zip directory takes {directory:,} bytes; a model's takes at most {MAX_DIRECTORY:,}")
        fh.seek(0)
        self._zip = zipfile.ZipFile(fh)
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Damaged(f"it holds {len(infos):,} members; a model holds at most {MAX_MEMBERS}")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if name in self.members:
                raise Damaged(f"two members are called {info.filename}")
            _check_member(info, size)
            self.members[name] = info

    def close(self) -> None:
        self._zip.close()

    def array(self, name: str, dtypes: tuple[str, ...], most: int) -> np.ndarray:
        """A 1-D member of one of `dtypes` holding at most `most` bytes of data."""
        info = self.members.get(name)
        if info is None:
            raise Damaged(f"missing {name}")
        if info.file_size > most + NPY_HEADER_MOST:
            raise Damaged(f"{info.filename} would inflate to {info.file_size:,} bytes; this model's header "
                          f"allows {most:,}")
        with self._zip.open(info) as fh:
            dtype, count, start = _npy_header(fh, info.filename)
            if dtype.str not in dtypes:
                raise Damaged(f"{info.filename} holds {dtype.str} values, not {' or '.join(dtypes)}")
            if count * dtype.itemsize != info.file_size - start:
                raise Damaged(f"{info.filename}'s header says {count:,} values, its data holds "
                              f"{info.file_size - start:,} bytes")
            out = np.empty(count, dtype=dtype)
            _read_into(fh, memoryview(out).cast("B"), info.filename)
            if fh.read(1):  # also where zipfile checks the CRC
                raise Damaged(f"{info.filename} holds more data than its header says")
        return out


def _directory_size(fh: BinaryIO, size: int) -> int | None:
    """The zip directory's size as the file's end record says (None: no end record here;
    zipfile then says what is wrong). zipfile reads that many bytes whatever they hold."""
    tail = min(size, 22 + 0xFFFF)
    fh.seek(size - tail)
    data = fh.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        return None
    (directory,) = struct.unpack("<I", data[at + 12:at + 16])
    if at >= 20 and data[at - 20:at - 16] == b"PK\x06\x07":  # zip64: the size is in the zip64 record
        (record,) = struct.unpack("<Q", data[at - 12:at - 4])
        fh.seek(min(record, size))
        zip64 = fh.read(56)
        if len(zip64) == 56 and zip64[:4] == b"PK\x06\x06":
            (directory,) = struct.unpack("<Q", zip64[40:48])
    return directory


def _check_member(info: zipfile.ZipInfo, size: int) -> None:
    """A member genlab could have written: plain, stored or deflated, no larger than its
    stored bytes can inflate to, and inside the file."""
    if info.flag_bits & 0x1:
        raise Damaged(f"{info.filename} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        most = info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        most = info.compress_size * DEFLATE_MOST + 1024
    else:
        raise Damaged(f"{info.filename} is compressed with method {info.compress_type}, which genlab never writes")
    if info.file_size > most:
        raise Damaged(f"{info.filename} claims {info.file_size:,} bytes from {info.compress_size:,} stored ones, "
                      "more than they can hold")
    if info.header_offset + info.compress_size > size:
        raise Damaged(f"{info.filename} runs past the end of the file")


def _npy_header(fh: BinaryIO, member: str) -> tuple[np.dtype, int, int]:
    """(dtype, number of values, where the data starts) of a 1-D .npy member."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=NPY_HEADER_MOST)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=NPY_HEADER_MOST)
        else:
            raise Damaged(f"{member} is in .npy format {version}, which genlab never writes")
    except (Damaged, zipfile.BadZipFile, zlib.error, EOFError):
        raise  # the member's stream is damaged, not its header
    except Exception as exc:  # numpy parses at most 4 KiB of header, and fails in many ways
        raise Damaged(f"{member} has no readable .npy header ({type(exc).__name__})") from None
    if len(shape) != 1 or dtype.hasobject:
        raise Damaged(f"{member} is not a plain list of numbers (shape {shape}, {dtype})")
    return dtype, shape[0], fh.tell()


def _read_into(fh: BinaryIO, out: memoryview, member: str) -> None:
    """Fill `out` from `fh` in pieces, so no second copy of a big member is made."""
    at = 0
    while at < len(out):
        piece = fh.read(min(PIECE, len(out) - at))
        if not piece:
            raise Damaged(f"{member} ends early")
        out[at:at + len(piece)] = piece
        at += len(piece)


@contextmanager
def opened(path: Path) -> Iterator[Archive]:
    """The members of the model file at `path`, open while the block runs."""
    with path.open("rb") as fh:
        archive = Archive(fh, os.fstat(fh.fileno()).st_size)
        try:
            yield archive
        finally:
            archive.close()


# What zipfile and numpy raise on a damaged file, besides Damaged and OSError.
READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, struct.error, NotImplementedError, ValueError)
