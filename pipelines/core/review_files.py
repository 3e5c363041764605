"""Reading a file of reviews: from a path, an http(s) URL or uploaded bytes, in any of the common delimiters,
with a clear message for every way a file can fail to read."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

from pipelines.core.reviews import MAX_COLUMN_NAME_CHARS, DatasetProblem, DatasetUnavailable

DELIMITERS = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
_SNIFF_CHARS = 65_536
_CONSISTENT_SHARE = 0.9  # of sampled rows with the same field count, for a delimiter to count as found


def load_reviews(source: str | Path | bytes, *, delimiter: str | None = None, header: bool = True) -> pd.DataFrame:
    """Read a delimited text file (CSV, TSV, ...) from a path, an http(s) URL or uploaded bytes.

    Args:
        source: a path, an http(s) URL, or the file's bytes.
        delimiter: `comma`, `tab`, `semicolon`, `pipe` or a single character; None detects one of those four.
        header: whether the first row names the columns; without one they are named `column 1`, `column 2`, ...

    Raises:
        DatasetUnavailable: the file cannot be fetched, decoded or read; the message names the delimiter tried.
        DatasetProblem: the delimiter asked for is not one of the allowed values.
    """
    chosen = _delimiter_character(delimiter)
    name = "The upload" if isinstance(source, bytes) else str(source)
    content = source if isinstance(source, bytes) else _fetch(str(source))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetUnavailable(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8.") \
            from exc
    separator = chosen or sniff_delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=separator, quoting=_quoting(text, separator),
                            header=0 if header else None, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetUnavailable(
            f"{name} could not be read with the {_delimiter_name(separator)} delimiter "
            f"({'chosen' if chosen else 'detected'}): {str(exc).strip()}. Choose the delimiter, or check the file."
        ) from exc
    if not header:
        frame.columns = [f"column {number}" for number in range(1, frame.shape[1] + 1)]
    elif (longest := max(len(str(column)) for column in frame.columns)) > MAX_COLUMN_NAME_CHARS:
        raise DatasetUnavailable(
            f"{name}'s first row has a field of {longest:,} characters, too long for a column name: untick "
            "'First row is a header' if the file has none, or choose the delimiter, or check the file.")
    return frame


def sniff_delimiter(text: str) -> str:
    """The delimiter among comma, tab, semicolon and pipe that splits a sample of `text` into steady columns.

    csv.Sniffer's guess is taken when it is among the steadiest; otherwise the steadiest in the order of
    `DELIMITERS`. A file no candidate splits steadily is one column: a delimiter it does not contain is returned.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rfind("\n")]  # a cut line would have too few fields
    steadiness = {character: _steadiness(sample, character) for character in DELIMITERS.values()}
    best = max(steadiness.values())
    if best >= _CONSISTENT_SHARE:
        steadiest = [character for character, share in steadiness.items() if share == best]
        try:
            sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS.values())).delimiter
        except csv.Error:  # the Sniffer found nothing it trusts
            sniffed = None
        return sniffed if sniffed in steadiest else steadiest[0]
    return min(DELIMITERS.values(), key=sample.count)


def _steadiness(sample: str, character: str) -> float:
    """The share of rows with the most common field count, when that count is at least 2; else 0.

    Read with quotes as quotes and as plain characters, the better of the two: review files often hold
    stray quotes that a CSV reader takes for the start of a field spanning lines.
    """
    shares = []
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
        counts = Counter(_field_counts(sample, character, quoting) or [])
        if counts:
            fields, rows = counts.most_common(1)[0]
            shares.append(rows / counts.total() if fields >= 2 else 0.0)
    return max(shares, default=0.0)


def _field_counts(text: str, character: str, quoting: int) -> list[int] | None:
    """The number of fields on each non-blank row, or None when the csv module refuses the text."""
    # The csv module refuses a field over its size limit (128 KiB); uncounted, a file with one long review would be
    # read as quoted CSV, where its stray quotes swallow the lines that follow. Any field of `text` is allowed.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text)))
    try:
        return [len(row) for row in csv.reader(io.StringIO(text), delimiter=character, quoting=quoting) if row]
    except csv.Error:  # e.g. a field over the size limit, lowered meanwhile by another thread's call
        return None
    finally:
        csv.field_size_limit(limit)


def _quoting(text: str, character: str) -> int:
    """CSV quoting, unless the file reads steadily line by line with quotes as plain characters and does not as CSV.

    The UCI review files hold lines such as `" I love it.<TAB>1`: as CSV, that quote swallows the lines up
    to the next one (pandas then drops or merges rows); read line by line, every row has its two fields.
    """
    quoted = _field_counts(text, character, csv.QUOTE_MINIMAL)
    plain = _field_counts(text, character, csv.QUOTE_NONE)
    if quoted is None or plain is None or len(set(plain)) != 1:
        return csv.QUOTE_MINIMAL
    return csv.QUOTE_NONE if len(set(quoted)) > 1 or len(quoted) != len(plain) else csv.QUOTE_MINIMAL


def _delimiter_character(delimiter: str | None) -> str | None:
    if delimiter is None or delimiter in DELIMITERS.values():
        return delimiter
    if delimiter.lower() in DELIMITERS:
        return DELIMITERS[delimiter.lower()]
    if len(delimiter) == 1:
        return delimiter
    raise DatasetProblem(f"Delimiter {delimiter!r} should be one of {', '.join(DELIMITERS)} or a single character.")


def _delimiter_name(character: str) -> str:
    return next((name for name, value in DELIMITERS.items() if value == character), repr(character))


def _fetch(location: str) -> bytes:
    """The bytes at a path or an http(s) URL."""
    if location.startswith(("http://", "https://")):
        try:
            response = httpx.get(location, timeout=30, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DatasetUnavailable(f"Could not download {location}: {exc}.") from exc
        return response.content
    try:
        return Path(location).read_bytes()
    except FileNotFoundError as exc:
        raise DatasetUnavailable(f"No file at {location}.") from exc
    except OSError as exc:
        raise DatasetUnavailable(f"Could not read {location}: {exc.strerror}.") from exc
