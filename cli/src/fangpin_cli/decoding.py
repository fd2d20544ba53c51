"""Lines of a text file in whatever encoding Excel or WPS saved it: detected while streaming.

Excel and WPS on a Chinese Windows save "CSV" in GBK (代码页 936) and "CSV UTF-8" with a byte
order mark; other tools write plain UTF-8. `TextLines` reads a binary stream block by block
and decodes it:

- a UTF-8 byte order mark means UTF-8 (the mark is dropped);
- otherwise the text is ASCII until its first non-ASCII byte, and the first `DECIDE_BYTES`
  from there decide: strict UTF-8 if they are valid UTF-8, else GB18030 (a superset of GBK
  and GB2312), else the file is unusable;
- `encoding=` (the CLI's `--encoding`) skips the detection.

Memory stays at a few blocks whatever the file size. A byte sequence that the chosen encoding
cannot decode further down stops the reading with `UnusableInput` naming the line, the
encodings tried and the `--encoding` option: nothing is guessed past the decision.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO, Final

from fangpin_cli.unusable import UnusableInput

BLOCK_BYTES: Final = 1 << 16
DECIDE_BYTES: Final = 1 << 16
"""Non-ASCII bytes (from the first one on) looked at before choosing UTF-8 or GB18030."""
DETECTED: Final = ("utf-8", "gb18030")
"""What is tried, in order, when no encoding is named."""

_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")
_UTF8_BOM: Final = codecs.BOM_UTF8
_WORKBOOK_MAGIC: Final = {
    b"PK\x03\x04": "an Excel workbook (XLSX), not text: name it .xlsx or use --format xlsx",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook: save it as .xlsx or as CSV",
}
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def known_encoding(name: str) -> str:
    """The codec's canonical name; UnusableInput for a name Python does not know."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UnusableInput(
            f"unknown encoding {name!r} (--encoding): use e.g. utf-8, gb18030 or gbk"
        ) from None


class TextLines:
    """Lines (ends kept, as a file opened with `newline=""` gives them) of a binary stream.

    `consumed` is how many bytes were read so far (for a progress display); `encoding` is
    the encoding in use once decided (None while the text is pure ASCII).
    """

    def __init__(self, raw: BinaryIO, name: str, encoding: str | None = None) -> None:
        self.raw = raw
        self.name = name
        self.forced = known_encoding(encoding) if encoding else None
        self.encoding: str | None = self.forced
        self.consumed = 0
        self._lines_done = 0  # newlines decoded so far: the number of the line being read - 1

    def __iter__(self) -> Iterator[str]:
        carry = ""
        started = False
        for text in self._texts():
            if not text:
                continue
            if not started:  # a byte order mark the decoder kept (a named encoding, GB18030)
                text, started = text.removeprefix("\ufeff"), True
            parts = (carry + text).split("\n")
            carry = parts.pop()
            self._lines_done += len(parts)
            for part in parts:
                yield part + "\n"
        if carry:
            yield carry

    def _read(self) -> bytes:
        try:
            block = self.raw.read(BLOCK_BYTES)
        except OSError as exc:
            raise UnusableInput(f"{self.name}: cannot be read ({exc.strerror or exc})") from None
        self.consumed += len(block)
        return block

    def _texts(self) -> Iterator[str]:
        """Decoded text, block by block."""
        block = self._read()
        for magic, what in _WORKBOOK_MAGIC.items():
            if block.startswith(magic):
                raise UnusableInput(f"{self.name} is {what}")
        if self.forced is None and block.startswith(_UTF16_BOMS):
            raise UnusableInput(
                f"{self.name} is UTF-16 text (Excel's 'Unicode text'): save it as 'CSV UTF-8' "
                "or as .xlsx, or name the encoding with --encoding utf-16"
            )
        decoder = None
        if self.forced is not None:
            decoder = self._decoder(self.forced)
        elif block.startswith(_UTF8_BOM):
            self.encoding = "utf-8-sig"
            decoder = self._decoder(self.encoding)
        pending = b""
        while True:
            eof = not block
            if decoder is None:
                if not pending and (found := _NON_ASCII.search(block)) is None:
                    yield block.decode("ascii")
                else:
                    if not pending:
                        assert found is not None
                        yield block[: found.start()].decode("ascii")
                        block = block[found.start() :]
                    pending += block
                    if len(pending) >= DECIDE_BYTES or eof:
                        decoder = self._choose(pending, eof)
                        yield from self._decode(decoder, pending, eof)
                        pending = b""
            else:
                yield from self._decode(decoder, block, eof)
            if eof:
                return
            block = self._read()

    def _decoder(self, encoding: str) -> codecs.IncrementalDecoder:
        return codecs.getincrementaldecoder(encoding)(errors="strict")

    def _choose(self, sample: bytes, eof: bool) -> codecs.IncrementalDecoder:
        """UTF-8 if the sample is valid UTF-8, else GB18030 if it is valid GB18030."""
        failed_at = 0
        for encoding in DETECTED:
            try:
                self._decoder(encoding).decode(sample, final=eof)
            except UnicodeDecodeError as exc:
                failed_at = max(failed_at, exc.start)
                continue
            self.encoding = encoding
            return self._decoder(encoding)
        line = self._lines_done + 1 + sample[:failed_at].count(b"\n")
        raise UnusableInput(
            f"{self.name}: not readable as text near line {line} (tried "
            f"{', '.join(DETECTED)}): name the file's encoding with --encoding"
        )

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, eof: bool) -> Iterator[str]:
        """The text of `data`; at bytes it cannot decode, the text before them, then
        UnusableInput naming their line (so every line before it is still read)."""
        try:
            yield str(decoder.decode(data, final=eof))
            return
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.end]
            good = exc.object[: exc.start]  # what the decoder had taken, pending bytes included
        encoding = self.encoding or "utf-8"
        try:
            text = codecs.decode(good, encoding)
        except (UnicodeDecodeError, LookupError):  # a stateful codec: skip the partial text
            text = ""
        line = self._lines_done + 1 + text.count("\n")
        yield text
        if self.forced is not None:
            how = f"not {self.forced} (named with --encoding)"
            advice = "check the --encoding option"
        else:
            how = f"not {encoding} (tried {encoding}, detected from the text before it)"
            advice = "name the file's encoding with --encoding (e.g. --encoding gb18030)"
        raise UnusableInput(f"{self.name} line {line}: bytes {bad.hex(' ')} are {how}; {advice}")
