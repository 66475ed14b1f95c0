"""Sparse encodings shared by the chips (EIE CSC + relative index, bitmap, COO/RLE, block, ...)."""

from accelsim.formats.bitmap import BitmapMatrix, encode_bitmap
from accelsim.formats.relative_index import RelativeIndexCSC, encode_csc, encode_vector

__all__ = ["BitmapMatrix", "RelativeIndexCSC", "encode_bitmap", "encode_csc", "encode_vector"]
