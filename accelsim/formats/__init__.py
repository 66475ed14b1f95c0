"""Sparse encodings shared by the chips (EIE CSC + relative index, bitmap, COO/RLE, block, ...)."""

from accelsim.formats.relative_index import RelativeIndexCSC, encode_csc, encode_vector

__all__ = ["RelativeIndexCSC", "encode_csc", "encode_vector"]
