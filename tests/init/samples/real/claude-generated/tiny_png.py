"""Write a tiny PNG (8x8, one colour, with a darker square in the middle) to the path given: our own image."""

import struct
import sys
import zlib


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tiny_png(colour: tuple[int, int, int], size: int = 8) -> bytes:
    dark = tuple(c // 2 for c in colour)
    rows = b"".join(b"\x00" + b"".join(bytes(dark if 2 <= x < size - 2 and 2 <= y < size - 2 else colour)
                                       for x in range(size)) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    red, green, blue = (int(v) for v in sys.argv[2].split(","))
    with open(sys.argv[1], "wb") as f:
        f.write(tiny_png((red, green, blue)))
