"""Receiving an upload safely: size limits while streaming to disk, then cheap content checks.

:func:`receive_upload` never holds an upload in memory and never reads past the limit:

1. a declared ``Content-Length`` above the limit is refused (413) before one byte of the
   body is read; a declared length of 0 is refused as empty (400);
2. the body is streamed to disk (a ``multipart/form-data`` form with a ``file`` field and
   an optional ``activity`` field, parsed incrementally; or the raw file bytes with the name
   in ``?filename=``) with a running byte count that stops reading and deletes the partial
   file as soon as the count passes the limit (413) - this is what catches a missing
   (chunked) or lying ``Content-Length``;
3. the file name's extension must be a video or skeleton format (415), checked as soon as
   the name is known, before the file data is read.

:func:`check_upload` then looks at the content (run it in a worker thread): an empty file
(400), a video that :func:`flag3d.video.probe_video` refuses (corrupt, audio only, not a
video: 400 with its one-line message), a skeleton file the readers cannot detect or read
(400), and a recording longer than the duration limit (413).

Example:
    >>> from flag3d.web.uploads import classify, safe_name
    >>> safe_name("../../etc/pass wd<1>.MP4"), classify("squat.MOV")
    ('pass_wd_1_.MP4', 'video')
    >>> classify("voice.m4a")
    Traceback (most recent call last):
    ...
    flag3d.web.uploads.UploadRejected: 415: voice.m4a: an audio file (.m4a) has no picture to analyse; upload a video (.mp4, .mov, .avi, .webm, .mkv, .m4v) or a skeleton file
    >>> classify("notes.docx")
    Traceback (most recent call last):
    ...
    flag3d.web.uploads.UploadRejected: 415: notes.docx: unsupported file type .docx; upload a video (.mp4, .mov, .avi, .webm, .mkv, .m4v) or a skeleton file (.npz, .json, .npy, .pkl, .pickle, .txt)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Dict, Optional

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
SKELETON_SUFFIXES = (".npz", ".json", ".npy", ".pkl", ".pickle", ".txt")
#: Sound files: refused by name with a message that says why (no picture to analyse).
AUDIO_SUFFIXES = (".m4a", ".mp3", ".wav", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wma")
#: Room for multipart boundaries, part headers and the small text fields.
MULTIPART_SLACK = 64 * 1024
MAX_FIELD_BYTES = 1024


class UploadRejected(Exception):
    """An upload refused with an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        self.status = int(status)
        self.message = " ".join(str(message).split())
        super().__init__(f"{self.status}: {self.message}")


@dataclass
class Upload:
    """A received upload: where it is on disk, what the user called it, what it is."""

    path: Path
    name: str
    kind: str
    size: int
    fields: Dict[str, str] = field(default_factory=dict)


def safe_name(name: str) -> str:
    """The file name without folders, with only ``[A-Za-z0-9._-]`` (at most 120 chars)."""
    base = re.split(r"[\\/]", str(name))[-1].strip()
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 120 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:120]
    return base or "upload"


def _shown(name: str) -> str:
    """A user-supplied name for messages: one line, no folders, at most 120 chars."""
    base = re.split(r"[\\/]", " ".join(str(name).split()))[-1]
    return base[:120] or "upload"


def classify(name: str) -> str:
    """``"video"`` or ``"skeleton"`` from the file name's extension; 415 otherwise."""
    suffix = Path(safe_name(name)).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in SKELETON_SUFFIXES:
        return "skeleton"
    if suffix in AUDIO_SUFFIXES:
        raise UploadRejected(
            415, f"{_shown(name)}: an audio file ({suffix}) has no picture to analyse; upload a "
                 f"video ({', '.join(VIDEO_SUFFIXES)}) or a skeleton file")
    what = f"file type {suffix}" if suffix else "file without an extension"
    raise UploadRejected(
        415, f"{_shown(name)}: unsupported {what}; upload a video ({', '.join(VIDEO_SUFFIXES)}) "
             f"or a skeleton file ({', '.join(SKELETON_SUFFIXES)})")


def _mb(n: float) -> str:
    """A size for messages: MB, or kB below 1 MB (a small limit must not read "0.0 MB")."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


class _FileSink:
    """Writes the file's bytes with a running count; deletes the file on abort."""

    def __init__(self, folder: Path, name: str, limit: int) -> None:
        self.kind = classify(name)
        self.name = _shown(name)
        self.path = folder / safe_name(name)
        self.limit = limit
        self.size = 0
        self._fh: Optional[BinaryIO] = open(self.path, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise UploadRejected(413, f"{self.name}: upload is larger than the limit of "
                                      f"{_mb(self.limit)}")
        assert self._fh is not None
        self._fh.write(data)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def abort(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class _MultipartSink:
    """Incremental ``multipart/form-data`` parsing: one file part plus small text fields."""

    def __init__(self, boundary: bytes, folder: Path, limit: int) -> None:
        from python_multipart.multipart import MultipartParser

        self.folder, self.limit = folder, limit
        self.file: Optional[_FileSink] = None
        self.fields: Dict[str, str] = {}
        self._headers: Dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._target: Any = None
        self._text = bytearray()
        self._ended = False
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        })

    def _part_begin(self) -> None:
        self._headers, self._field, self._value, self._target = {}, b"", b"", None
        self._text = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if filename is not None:
            if self.file is not None:
                raise UploadRejected(400, "upload one file per job")
            text = filename.decode("utf-8", "replace")
            if not text.strip():
                raise UploadRejected(400, "no file chosen")
            self.file = _FileSink(self.folder, text, self.limit)
            self._target = self.file
        else:
            self._target = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if isinstance(self._target, _FileSink):
            self._target.write(data[start:end])
        elif self._target is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise UploadRejected(400, f"form field {self._target!r} is too long")

    def _part_end(self) -> None:
        if isinstance(self._target, _FileSink):
            self._target.close()
        elif self._target:
            self.fields[self._target] = self._text.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self._ended = True

    def write(self, chunk: bytes) -> None:
        self.parser.write(chunk)

    def finish(self) -> _FileSink:
        self.parser.finalize()
        if not self._ended:
            raise UploadRejected(400, "the upload ended before the form was complete")
        if self.file is None:
            raise UploadRejected(400, "no file in the form: send it in the field 'file'")
        return self.file

    def abort(self) -> None:
        if self.file is not None:
            self.file.abort()


def _boundary(content_type: str) -> bytes:
    from python_multipart.multipart import parse_options_header

    _, opts = parse_options_header(content_type)
    boundary = opts.get(b"boundary")
    if not boundary:
        raise UploadRejected(400, "multipart/form-data without a boundary")
    return boundary


async def receive_upload(request: Any, folder: Path, limit: int,
                         filename: Optional[str] = None) -> Upload:
    """Stream the request body into ``folder`` (see the module docstring).

    Args:
        request: a Starlette ``Request`` (only ``headers`` and ``stream()`` are used).
        folder: an existing, empty folder for this upload.
        limit: the largest file accepted, in bytes.
        filename: the file name for a raw (non-multipart) body.
    """
    ctype = request.headers.get("content-type", "")
    multipart = ctype.lower().startswith("multipart/form-data")
    body_limit = limit + MULTIPART_SLACK if multipart else limit
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise UploadRejected(400, f"invalid Content-Length header {declared[:20]!r}") from None
        if n > body_limit:
            raise UploadRejected(413, f"upload of {_mb(n)} is larger than the limit of {_mb(limit)}")
        if n == 0:
            raise UploadRejected(400, "empty upload (0 bytes)")
    if multipart:
        sink: Any = _MultipartSink(_boundary(ctype), folder, limit)
    else:
        if not filename:
            raise UploadRejected(400, "name the file: send a multipart form with a 'file' field, "
                                      "or the raw bytes with ?filename=NAME")
        sink = _FileSink(folder, filename, limit)
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > body_limit:
                raise UploadRejected(413, f"upload is larger than the limit of {_mb(limit)}")
            if chunk:
                sink.write(chunk)
        file = sink.finish() if multipart else sink
        file.close()
    except BaseException:
        sink.abort()
        raise
    fields = sink.fields if multipart else {}
    if file.size == 0:
        file.abort()
        raise UploadRejected(400, f"{file.name}: empty file (0 bytes)")
    return Upload(file.path, file.name, file.kind, file.size, fields)


def check_upload(upload: Upload, max_duration_s: float) -> Dict[str, Any]:
    """Cheap content checks (module docstring); returns facts (``duration_s``, ``format``)."""
    from flag3d.errors import Flag3dError

    def fail(status: int, problem: str) -> UploadRejected:
        return UploadRejected(status, f"{upload.name}: {problem}")

    try:
        if upload.kind == "video":
            from flag3d.video import probe_video

            info = probe_video(upload.path)
            facts: Dict[str, Any] = {"format": "video", "duration_s": float(info.duration),
                                     "fps": float(info.fps), "frames": int(info.num_frames)}
        else:
            from flag3d.io import read_sequence
            from flag3d.io.registry import detect_format

            fmt = detect_format(upload.path)
            seq = read_sequence(upload.path, fmt)
            facts = {"format": fmt, "duration_s": float(seq.duration), "fps": float(seq.fps),
                     "frames": int(seq.num_frames)}
    except Flag3dError as err:
        status = 503 if type(err).__name__ == "MissingDependencyError" else 400
        raise fail(status, err.problem) from None
    if facts["duration_s"] > max_duration_s:
        raise fail(413, f"the recording is {facts['duration_s']:.0f} s long; the limit is "
                        f"{max_duration_s:.0f} s")
    return facts
