"""A fast-start MP4 of one H.264 video track, written without a media library.

Why our own: the clip is one short video track with a known frame rate, which needs a dozen
fixed boxes (ISO/IEC 14496-12 and -15). Writing them here keeps FFmpeg (and its licence
questions: share/h264.py) out of the booth. The movie box comes before the media data
("fast start"), so a phone starts playing before the whole file has arrived, and the SPS/PPS
travel in the `avcC` record, as Safari wants them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

NAL_SPS, NAL_PPS, NAL_IDR, NAL_AUD = 7, 8, 5, 9
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
TIMESCALE_PER_FPS = 1000  # ticks per frame: 30 fps → timescale 30000, one frame = 1000 ticks

# The colour the frames were converted with (share/clips.py): BT.709 primaries, transfer and
# matrix, limited range — the same as a browser assumes for HD video without a tag.
COLOUR_BT709 = (1, 1, 1)


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


@dataclass
class Sample:
    data: bytes  # length-prefixed NAL units
    keyframe: bool


@dataclass
class Mp4Writer:
    """Collects a clip's pictures, then writes them as one fast-start MP4."""

    width: int
    height: int
    fps: int
    sps: list[bytes] = field(default_factory=list)
    pps: list[bytes] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)

    def add(self, nals: Iterable[bytes], keyframe: bool) -> None:
        """One picture's NAL units (without start codes)."""
        parts: list[bytes] = []
        for nal in nals:
            if not nal:
                continue
            kind = nal[0] & 0x1F
            if kind in (NAL_SPS, NAL_PPS):
                # `avc1` keeps parameter sets in avcC only, all of them: an encoder may start a
                # new IDR with new ids at a scene change (the wipe)
                kept = self.sps if kind == NAL_SPS else self.pps
                if nal not in kept:
                    kept.append(nal)
            elif kind != NAL_AUD:
                parts.append(struct.pack(">I", len(nal)) + nal)
        if not parts:
            raise ValueError("a picture without slice data")
        self.samples.append(Sample(b"".join(parts), keyframe))

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.fps

    def avcc(self) -> bytes:
        """The decoder configuration record (ISO/IEC 14496-15 5.3.3.1)."""
        if not self.sps or len(self.sps[0]) < 4 or not self.pps:
            raise ValueError("no SPS/PPS seen: the first picture must be an IDR with both")
        if len(self.sps) > 31 or len(self.pps) > 255:
            raise ValueError("more parameter sets than avcC can hold")
        first = self.sps[0]
        return (
            bytes([1, first[1], first[2], first[3], 0xFF, 0xE0 | len(self.sps)])
            + b"".join(struct.pack(">H", len(s)) + s for s in self.sps)
            + bytes([len(self.pps)])
            + b"".join(struct.pack(">H", len(p)) + p for p in self.pps)
        )

    @property
    def profile_level(self) -> tuple[int, int]:
        """(profile_idc, level_idc) of the first SPS: 66 is Baseline, 40 is level 4.0."""
        return self.sps[0][1], self.sps[0][3]

    def to_bytes(self) -> bytes:
        if not self.samples or not self.samples[0].keyframe:
            raise ValueError("a clip starts with a keyframe")
        ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
        moov = self._moov(0)
        first = len(ftyp) + len(moov) + 8  # after the mdat header
        moov = self._moov(first)  # same size: only the chunk offset changed
        mdat = box(b"mdat", *(s.data for s in self.samples))
        return ftyp + moov + mdat

    def _moov(self, chunk_offset: int) -> bytes:
        timescale = self.fps * TIMESCALE_PER_FPS
        duration = len(self.samples) * TIMESCALE_PER_FPS
        mvhd = full_box(
            b"mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, timescale, duration),
            struct.pack(">IH", 0x10000, 0x100),  # rate 1.0, volume 1.0
            bytes(10),
            _MATRIX,
            bytes(24),
            struct.pack(">I", 2),  # next track id
        )
        tkhd = full_box(
            b"tkhd",
            0,
            3,  # enabled, in movie
            struct.pack(">IIIII", 0, 0, 1, 0, duration),
            bytes(8),
            struct.pack(">hhhH", 0, 0, 0, 0),
            _MATRIX,
            struct.pack(">II", self.width << 16, self.height << 16),
        )
        mdhd = full_box(
            b"mdhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, timescale, duration),
            struct.pack(">HH", 0x55C4, 0),  # language "und"
        )
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
        vmhd = full_box(b"vmhd", 0, 1, bytes(8))
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
        primaries, transfer, matrix = COLOUR_BT709
        avc1 = box(
            b"avc1",
            bytes(6),
            struct.pack(">H", 1),  # data reference index
            bytes(16),
            struct.pack(">HH", self.width, self.height),
            struct.pack(">II", 0x480000, 0x480000),  # 72 dpi
            bytes(4),
            struct.pack(">H", 1),  # frames per sample
            bytes(32),  # compressor name
            struct.pack(">Hh", 0x18, -1),  # depth, no colour table
            box(b"avcC", self.avcc()),
            box(b"colr", b"nclx", struct.pack(">HHHB", primaries, transfer, matrix, 0)),
            box(b"pasp", struct.pack(">II", 1, 1)),
        )
        stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1)
        n = len(self.samples)
        stts = full_box(b"stts", 0, 0, struct.pack(">III", 1, n, TIMESCALE_PER_FPS))
        keys = [i + 1 for i, s in enumerate(self.samples) if s.keyframe]
        stss = full_box(b"stss", 0, 0, struct.pack(f">I{len(keys)}I", len(keys), *keys))
        stsc = full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, n, 1))
        sizes = [len(s.data) for s in self.samples]
        stsz = full_box(b"stsz", 0, 0, struct.pack(f">II{n}I", 0, n, *sizes))
        stco = full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
        stbl = box(b"stbl", stsd, stts, stss, stsc, stsz, stco)
        minf = box(b"minf", vmhd, dinf, stbl)
        mdia = box(b"mdia", mdhd, hdlr, minf)
        trak = box(b"trak", tkhd, mdia)
        return box(b"moov", mvhd, trak)


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(kind, offset, size) of each top-level box: the tests check that moov precedes mdat."""
    out: list[tuple[bytes, int, int]] = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8:
            break
        out.append((kind, pos, size))
        pos += size
    return out
