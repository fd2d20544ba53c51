"""JSON lines of one msgspec schema decoded by C straight into numpy columns.

The fast path of batch decoding: a `ColumnarDecoder` derives its parser from a msgspec
`Struct` type (field names, types, bounds, defaults, value lists) and fills one column per
kept field, one table per list of objects. It takes a line only when it is certain the
reference decoder (`msgspec.json.Decoder(struct)` plus the given string shapes and check
digits) accepts it with the same values; every other line is returned as rejected, for the
caller to decide with the reference path (which gives the exact error). So this package
never defines what is valid, it only recognises the plainly valid lines fast.

`join_lines` goes the other way: output lines assembled from columns of fragments (constant
text, one fragment per row, or one of a few values per row) in one sized pass.
"""

from .schema import CheckDigit, ColumnarDecoder, Columns, TextShape, UnsupportedSchema
from .text import Fragments, join_lines

__all__ = [
    "CheckDigit",
    "ColumnarDecoder",
    "Columns",
    "Fragments",
    "TextShape",
    "UnsupportedSchema",
    "join_lines",
]
