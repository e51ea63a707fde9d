"""The mapping CSV as an immutable snapshot (FieldMap) and its guarded writer (FieldMapStore).

Writes take a file lock (``<csv>.lock``), re-read the file under it, and replace it with a
temporary file in the same directory (``os.replace``), so readers see the old or the new file,
never half of one, and concurrent writers in other processes cannot lose each other's rows.
Only edited records change; every other byte of the file is kept.

Accepted suggestions are recorded in a side file, ``<csv stem>.accepted.csv`` (columns
field_of_study, academic_field, confidence, accepted_at): their label is written to the CSV's
academic_field column, and the side file keeps them marked as inferred (``source="inferred"``
with the confidence they were accepted at) until someone confirms them with ``add``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from leadpersona.adapters.field_map_csv import ensure_working_copy
from leadpersona.domain.normalise import is_nan_like, normalise_key, normalise_label
from leadpersona.errors import FieldMapError, InvalidInput
from leadpersona.mapping.classifier import DEFAULT_THRESHOLD, FieldClassifier, Inference
from leadpersona.mapping.cleaning import Cleaned, Entry, clean
from leadpersona.mapping.csvfile import CsvFile, parse_csv
from leadpersona.mapping.embedding import Encoder, default_encoder
from leadpersona.mapping.models import CleaningReport, MappingResult, Suggestion

__all__ = ["FieldMap", "FieldMapStore"]

_LOCK_TIMEOUT = 60.0
_MEMO_LIMIT = 100_000
_ACCEPTED_COLUMNS = ("field_of_study", "academic_field", "confidence", "accepted_at")


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


class FieldMap:
    """An immutable snapshot of the cleaned CSV and the classifier built from its curated rows."""

    __slots__ = ("_classifier", "_entries", "_known", "_memo", "_report", "labels", "version")

    def __init__(
        self,
        cleaned: Cleaned,
        version: str,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        encoder: Encoder | None = None,
    ):
        self.version: str = version
        self._entries: Mapping[str, Entry] = cleaned.entries
        self._known = frozenset(cleaned.entries) | cleaned.malformed_keys
        self._report = cleaned.report
        curated = {k: e.label for k, e in cleaned.entries.items() if e.label and e.accepted is None}
        self.labels: frozenset[str] = frozenset(
            e.label for e in cleaned.entries.values() if e.label is not None
        )
        # The model also learns from accepted suggestions; the rules' fuzzy step does not.
        examples = {k: e.label for k, e in cleaned.entries.items() if e.label}
        self._classifier = FieldClassifier(
            curated, threshold=threshold, encoder=encoder, model_examples=examples
        )
        self._memo: dict[str, MappingResult] = {}

    @property
    def report(self) -> CleaningReport:
        return self._report

    @property
    def classifier(self) -> FieldClassifier:
        return self._classifier

    def curated(self) -> dict[str, str]:
        """Curated labels by key (accepted suggestions excluded)."""
        return {k: e.label for k, e in self._entries.items() if e.label and e.accepted is None}

    def is_known(self, text: str) -> bool:
        """True if the normalised key of ``text`` is in the CSV, labelled or not."""
        return normalise_key(text) in self._known

    def lookup(self, text: str) -> MappingResult:
        """The academic field of ``text``: curated label, else inferred (marked), else None."""
        result = self._memo.get(text)
        if result is None:
            result = self._lookup(text)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[text] = result
        return result

    def lookup_many(self, texts: Iterable[str]) -> list[MappingResult]:
        """:meth:`lookup` for many strings: what needs inference is classified in one batch."""
        wanted = list(texts)
        fresh = [
            t
            for t in dict.fromkeys(wanted)
            if t not in self._memo and self._known_result(t) is None
        ]
        if fresh:
            if len(self._memo) + len(fresh) >= _MEMO_LIMIT:
                self._memo.clear()
            for text, inference in zip(fresh, self._classifier.classify_many(fresh), strict=True):
                self._memo[text] = _inferred(text, inference.label, inference.confidence)
        return [self.lookup(t) for t in wanted]

    def explain(self, text: str) -> tuple[MappingResult, Inference | None]:
        """The answer for ``text`` and, when it was inferred, the inference behind it."""
        result = self.lookup(text)
        if self._known_result(text) is not None:
            return result, None
        return result, self._classifier.classify(text)

    def _known_result(self, text: str) -> MappingResult | None:
        """The answer without inference: nan-like, curated or accepted; None if inference needed."""
        if is_nan_like(text):
            return MappingResult(
                field_of_study=text, academic_field=None, source=None, confidence=None
            )
        entry = self._entries.get(normalise_key(text))
        if entry is not None and entry.label is not None:
            if entry.accepted is not None:
                return MappingResult(
                    field_of_study=text,
                    academic_field=entry.label,
                    source="inferred",
                    confidence=entry.accepted,
                )
            return MappingResult(
                field_of_study=text, academic_field=entry.label, source="mapping", confidence=1.0
            )
        return None

    def _lookup(self, text: str) -> MappingResult:
        known = self._known_result(text)
        if known is not None:
            return known
        inference = self._classifier.classify(text)
        return _inferred(text, inference.label, inference.confidence)

    def suggestions(self) -> list[Suggestion]:
        """Inferred labels for the CSV's unlabelled rows, most confident first."""
        found = []
        unlabelled = [entry for entry in self._entries.values() if entry.label is None]
        inferences = self._classifier.classify_many([e.field_of_study for e in unlabelled])
        for entry, inference in zip(unlabelled, inferences, strict=True):
            if inference.label is not None:
                found.append(
                    Suggestion(
                        field_of_study=entry.field_of_study,
                        line=entry.line,
                        academic_field=inference.label,
                        confidence=round(inference.confidence, 4),
                    )
                )
        found.sort(key=lambda s: (-s.confidence, s.line))
        return found


@dataclass(frozen=True, slots=True)
class _Snapshot:
    parsed: CsvFile
    cleaned: Cleaned
    data: bytes


def _inferred(text: str, label: str | None, confidence: float) -> MappingResult:
    if label is None:
        return MappingResult(field_of_study=text, academic_field=None, source=None, confidence=None)
    return MappingResult(
        field_of_study=text,
        academic_field=label,
        source="inferred",
        confidence=round(confidence, 4),
    )


_DEFAULT_ENCODER = object()


class FieldMapStore:
    """The mapping CSV at ``path``: cached snapshots, and locked, atomic writes.

    ``encoder`` backs inference with the multilingual model; by default the process-wide one
    (None when the model is not installed); pass None for the rules alone. With
    ``working_copy``, a missing file is first copied from the packaged CSV (on first use, so a
    copy that cannot be made is a :class:`FieldMapError` of the call, not of the constructor).

    One store per file and process: its snapshot (with the memoised answers) and its in-process
    guard are shared by whoever holds it, so an entry point opens it once and hands it over.
    """

    def __init__(
        self,
        path: Path,
        *,
        encoder: Encoder | object | None = _DEFAULT_ENCODER,
        working_copy: bool = False,
    ) -> None:
        self.path = Path(path)
        self._encoder_choice = encoder
        self._needs_copy = working_copy
        self.accepted_path = self.path.with_name(self.path.stem + ".accepted.csv")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._cache: tuple[tuple[object, ...], FieldMap] | None = None
        self._guard = threading.Lock()

    # Reading

    def _ensure_copy(self) -> None:
        if self._needs_copy:
            ensure_working_copy(self.path)
            self._needs_copy = False

    def _stamp(self) -> tuple[object, ...]:
        self._ensure_copy()
        stamps: list[object] = []
        for path in (self.path, self.accepted_path):
            try:
                st = path.stat()
            except FileNotFoundError:
                stamps.append(None)
                continue
            except OSError as exc:
                raise FieldMapError(f"cannot read: {exc.strerror}", path=path) from None
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        if stamps[0] is None:
            raise FieldMapError("no such file", path=self.path)
        return tuple(stamps)

    def _read(self) -> _Snapshot:
        self._ensure_copy()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise FieldMapError("no such file", path=self.path) from None
        except OSError as exc:
            raise FieldMapError(f"cannot read: {exc.strerror}", path=self.path) from None
        parsed = parse_csv(data, self.path)
        cleaned = clean(parsed, version=_version(data), accepted=self._read_accepted())
        return _Snapshot(parsed, cleaned, data)

    def _read_accepted(self) -> dict[str, tuple[str, float]]:
        accepted: dict[str, tuple[str, float]] = {}
        for key, row in self._read_accepted_rows().items():
            label = normalise_label(row["academic_field"])
            if label is None:
                continue
            try:
                confidence = float(row["confidence"] or "nan")
            except ValueError:
                confidence = float("nan")
            if confidence != confidence:  # NaN: keep it marked inferred, confidence unknown
                confidence = 0.0
            accepted[key] = (label, confidence)
        return accepted

    def load(self) -> FieldMap:
        """The current snapshot; re-read only when the CSV or the side file changed."""
        with self._guard:
            stamp = self._stamp()
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
            snapshot = self._read()
            field_map = FieldMap(
                snapshot.cleaned, snapshot.cleaned.report.version, encoder=self.encoder
            )
            self._cache = (stamp, field_map)
            return field_map

    @property
    def encoder(self) -> Encoder | None:
        """The encoder inference uses (None: rules alone)."""
        if self._encoder_choice is _DEFAULT_ENCODER:
            self._encoder_choice = default_encoder()
        return self._encoder_choice  # type: ignore[return-value]

    def report(self) -> CleaningReport:
        """The cleaning report of the current file."""
        return self.load().report

    # Writing

    def _locked(self) -> FileLock:
        return FileLock(str(self._lock_path), timeout=_LOCK_TIMEOUT)

    def _write(self, path: Path, data: bytes) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                if path.exists():
                    os.chmod(tmp, path.stat().st_mode & 0o7777)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise FieldMapError(f"cannot write: {exc.strerror}", path=path) from None

    def _with_lock(self) -> FileLock:
        lock = self._locked()
        try:
            lock.acquire()
        except Timeout:
            raise FieldMapError(
                "another process holds the lock for too long", path=self._lock_path
            ) from None
        return lock

    def append_unknown(self, texts: Iterable[str]) -> list[str]:
        """Append the fields of study the CSV does not hold yet (once, ever); return them."""
        wanted = [text.strip() for text in texts if isinstance(text, str) and not is_nan_like(text)]
        if not wanted:
            return []
        snapshot = self.load()
        if all(snapshot.is_known(text) for text in wanted):
            return []
        lock = self._with_lock()
        try:
            current = self._read()
            known = set(current.cleaned.entries) | set(current.cleaned.malformed_keys)
            rows: list[str] = []
            appended: list[str] = []
            for text in wanted:
                key = normalise_key(text)
                if key in known:
                    continue
                known.add(key)
                rows.append(current.parsed.format_row({"field_of_study": text}))
                appended.append(text)
            if rows:
                self._write(self.path, current.parsed.render(appended=rows))
            return appended
        finally:
            lock.release()

    def add(self, field_of_study: str, academic_field: str) -> None:
        """Set the curated label of ``field_of_study`` (added if new; every duplicate updated)."""
        if is_nan_like(field_of_study):
            raise InvalidInput("field of study is empty")
        label = normalise_label(academic_field)
        if label is None:
            raise InvalidInput("academic field is empty")
        text = field_of_study.strip()
        key = normalise_key(text)
        lock = self._with_lock()
        try:
            current = self._read()
            entry = current.cleaned.entries.get(key)
            accepted = self._read_accepted_rows()
            if entry is None:
                row = current.parsed.format_row({"field_of_study": text, "academic_field": label})
                data = current.parsed.render(appended=[row])
            else:
                data = current.parsed.render(replaced=self._relabel(current.parsed, entry, label))
            self._write(self.path, data)
            if key in accepted:
                del accepted[key]
                self._write_accepted(accepted)
        finally:
            lock.release()

    def accept_suggestions(self, min_confidence: float) -> list[Suggestion]:
        """Write inferred labels with confidence >= ``min_confidence`` for unlabelled rows.

        Each is recorded in the side file, so it stays marked as inferred; curated labels are
        never touched (the file is re-read under the lock first).
        """
        lock = self._with_lock()
        try:
            current = self._read()
            field_map = FieldMap(
                current.cleaned, current.cleaned.report.version, encoder=self.encoder
            )
            chosen = [s for s in field_map.suggestions() if s.confidence >= min_confidence]
            if not chosen:
                return []
            replaced: dict[int, str] = {}
            accepted = self._read_accepted_rows()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            for suggestion in chosen:
                entry = current.cleaned.entries[normalise_key(suggestion.field_of_study)]
                replaced.update(self._relabel(current.parsed, entry, suggestion.academic_field))
                accepted[entry.key] = {
                    "field_of_study": entry.field_of_study,
                    "academic_field": suggestion.academic_field,
                    "confidence": f"{suggestion.confidence:.4f}",
                    "accepted_at": stamp,
                }
            self._write_accepted(accepted)
            self._write(self.path, current.parsed.render(replaced=replaced))
            return [s.model_copy(update={"applied": True}) for s in chosen]
        finally:
            lock.release()

    @staticmethod
    def _relabel(parsed: CsvFile, entry: Entry, label: str) -> dict[int, str]:
        i_label = parsed.column("academic_field")
        replaced = {}
        for index in entry.indices:
            cells = list(parsed.records[index].cells)
            cells[i_label] = label
            replaced[index] = parsed.format_row(dict(zip(parsed.header, cells, strict=True)))
        return replaced

    def _read_accepted_rows(self) -> dict[str, dict[str, str]]:
        try:
            text = self.accepted_path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise FieldMapError(
                f"cannot read accepted suggestions: {exc}", path=self.accepted_path
            ) from None
        rows = {}
        for row in csv.DictReader(io.StringIO(text)):
            field = row.get("field_of_study") or ""
            if not is_nan_like(field):
                rows[normalise_key(field)] = {
                    name: row.get(name) or "" for name in _ACCEPTED_COLUMNS
                }
        return rows

    def _write_accepted(self, rows: Mapping[str, Mapping[str, str]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_ACCEPTED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows.values())
        self._write(self.accepted_path, buffer.getvalue().encode("utf-8"))
