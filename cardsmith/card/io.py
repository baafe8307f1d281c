"""File input and output for untrusted cards: bounded reads, bounded YAML, atomic writes.

Resource bounds for untrusted input, and the safe readers that enforce them.

Cards come from strangers. Every file cardsmith reads goes through :func:`read_text`, and every YAML
document through :func:`load_yaml`, so that a hostile input ends in a clear
:class:`~cardsmith.errors.CardsmithError` within seconds instead of exhausting memory or time.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from cardsmith.errors import (
    CardsmithError,
    InputTooLargeError,
    NotACardError,
    ParseError,
    UntrustedInputError,
)

#: Largest card file read, in bytes (the biggest real cards are a few hundred KiB).
MAX_CARD_BYTES = 8 * 1024 * 1024
#: Largest YAML front matter, in characters.
MAX_YAML_CHARS = 1024 * 1024
#: Most YAML alias references (``*anchor``) allowed in one document (defeats "billion laughs").
MAX_YAML_ALIASES = 100
#: Most YAML nodes (scalars, lists, mappings) a document may expand to once its aliases are followed:
#: a few aliases that each repeat the one before ("billion laughs") stay under ``MAX_YAML_ALIASES``
#: but expand exponentially; real card metadata has a few hundred nodes.
MAX_YAML_NODES = 250_000
#: Deepest YAML nesting allowed.
MAX_YAML_DEPTH = 50
#: Most rows read from one results table; longer tables are an input error.
MAX_TABLE_ROWS = 200_000


class _Bounds:
    """Alias and depth limits, enforced while composing (before anything is constructed)."""

    _aliases: int
    _depth: int
    check_event: Any  # provided by the yaml Loader this is mixed into

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise InputTooLargeError(
                    f"YAML front matter uses more than {MAX_YAML_ALIASES} aliases (possible alias bomb)"
                )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise InputTooLargeError(f"YAML front matter is nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """PyYAML's SafeLoader (no arbitrary objects) with alias and depth limits while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0


# Timestamps stay strings: a card's metadata is written back as it was read.
_RESOLVERS = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.yaml_implicit_resolvers = _RESOLVERS

_CParser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None) if yaml.__with_libyaml__ else None
_FastLoader: Any = None
if _CParser is not None:

    class _FastLoader(_Bounds, Composer, _CParser, SafeConstructor, Resolver):  # type: ignore[no-redef]
        """:class:`_BoundedLoader` with libyaml's scanner and parser (C) under the same Python composer
        (with the same limits), constructor and resolvers: the same data, several times faster.
        """

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._aliases = 0
            self._depth = 0

    _FastLoader.yaml_implicit_resolvers = _RESOLVERS

#: What PyYAML's pure-Python reader refuses (libyaml's reader is not identical).
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


def _libyaml_reads_as_pyyaml(text: str) -> bool:
    """False for text that libyaml and PyYAML may read differently, which the pure-Python loader reads.

    Characters PyYAML's reader refuses, tabs (libyaml accepts one inside a plain scalar, PyYAML does
    not) and byte-order marks (libyaml skips one anywhere). A fuzz test compares both loaders.
    """
    return "\t" not in text and "\ufeff" not in text and not _NON_PRINTABLE.search(text)


def _check_expansion(root: yaml.Node, aliases: int = 1) -> None:
    """Refuse a YAML graph that expands past :data:`MAX_YAML_NODES` nodes, or refers to itself.

    Aliased nodes are shared in the composed graph, so each distinct node's expanded size is
    computed once (linear in the document), yet counted as often as it is referenced.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise InputTooLargeError("YAML front matter contains a recursive alias")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            if not aliases:  # no alias at all: simply that many values
                raise InputTooLargeError(f"YAML front matter has more than {MAX_YAML_NODES:,} values")
            raise InputTooLargeError(
                f"YAML front matter expands to more than {MAX_YAML_NODES:,} values through its aliases "
                "(possible alias bomb)"
            )
        sizes[key] = total
        return total

    size(root)


def load_yaml(text: str) -> Any:
    """Load one YAML document safely and within bounds; errors become :class:`ParseError`.

    libyaml (when PyYAML has it) scans and parses; composing, the limits, constructing and resolving
    are PyYAML's Python code either way. Text libyaml refuses, or that PyYAML's reader would refuse,
    goes through the pure-Python loader, so that results and error messages are PyYAML's own.
    """
    if len(text) > MAX_YAML_CHARS:
        raise InputTooLargeError(f"YAML front matter is larger than {MAX_YAML_CHARS // 1024} KiB")
    if _FastLoader is not None and type(text) is str and _libyaml_reads_as_pyyaml(text):
        try:
            return _load(_FastLoader, text)
        except InputTooLargeError:
            raise  # a limit: the same composer enforces it on the same events
        except ParseError:
            pass  # invalid YAML: reported (or, where libyaml is stricter, read) by PyYAML itself
    return _load(_BoundedLoader, text)


def _load(loader_class: Any, text: str) -> Any:
    loader: Any = None
    try:
        loader = loader_class(text)  # the reader already rejects unprintable characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, getattr(loader, "_aliases", 1))
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(f"invalid YAML front matter{where}: {problem}") from None
    except RecursionError:
        raise InputTooLargeError("YAML front matter is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def decode_text(data: bytes, *, source: str = "input") -> str:
    """Decode a card's bytes as UTF-8 (a BOM is dropped); binary or invalid data is not a card."""
    if len(data) > MAX_CARD_BYTES:
        raise InputTooLargeError(
            f"{source} is {len(data) / 1048576:.1f} MiB; cards larger than "
            f"{MAX_CARD_BYTES // 1048576} MiB are not read"
        )
    if b"\x00" in data[:8192]:
        raise NotACardError(f"{source} is a binary file, not a model card")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotACardError(f"{source} is not valid UTF-8 (byte {exc.start}): not a model card") from None
    return text.removeprefix("\ufeff")


#: Largest JSON file read (trainer_state.json of a long run is a few MiB; a card JSON is bounded like a card).
MAX_JSON_BYTES = 64 * 1024 * 1024
#: Deepest JSON nesting accepted (real config.json / trainer_state.json files nest 4 or 5 levels).
MAX_JSON_DEPTH = 64
#: The Hub cache keeps a repository's files as links from ``snapshots/<commit>/`` to ``blobs/``.
_HUB_CACHE_KINDS = ("models--", "datasets--", "spaces--")


def allowed_root(folder: str | Path) -> Path:
    """The folder whose tree the files of ``folder`` may link into: ``folder`` itself (resolved), or
    for a snapshot of the Hub cache (``models--org--name/snapshots/<commit>``) the repository's
    cache folder, where its ``blobs/`` are."""
    root = Path(folder).resolve()
    if root.parent.name == "snapshots" and root.parent.parent.name.startswith(_HUB_CACHE_KINDS):
        return root.parent.parent
    return root


def check_within(path: str | Path, folder: str | Path) -> Path:
    """``path`` resolved, when it stays inside ``folder`` (see :func:`allowed_root`) once symbolic
    links are followed; else :class:`~cardsmith.errors.UntrustedInputError`: a model folder from a
    stranger must not make cardsmith read or write a file elsewhere (a secret, a system file)."""
    p = Path(path)
    root = allowed_root(folder)
    try:
        target = p.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        raise UntrustedInputError(f"{p}: cannot follow its symbolic links ({exc})") from None
    if target != root and root not in target.parents:
        raise UntrustedInputError(
            f"{p} is a symbolic link to {target}, outside {folder}: cardsmith does not follow links out of a "
            "model folder"
        )
    return target


def read_bytes(
    path: str | Path, *, limit: int, within: str | Path | None = None, what: str = "file"
) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them, else a clear :class:`CardsmithError`.

    FIFOs, devices and sockets are refused without waiting on them (the file is opened
    non-blocking, then checked); ``within``: the file must stay inside that folder once links are
    followed (:func:`check_within`).
    """
    p = Path(path)
    if within is not None:
        check_within(p, within)
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise ParseError(f"{p}: no such file or directory") from None
    except IsADirectoryError:
        raise ParseError(f"{p} is a folder, not a file") from None
    except OSError as exc:
        raise ParseError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ParseError(f"{p} is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise ParseError(f"{p} is not a regular file (FIFOs, devices and sockets are not read)")
        if st.st_size > limit:
            raise InputTooLargeError(
                f"{p} is {st.st_size / 1048576:.1f} MiB; a {what} larger than {limit / 1048576:g} MiB is not read"
            )
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ParseError(f"{p}: cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while being read
        raise InputTooLargeError(f"{p}: a {what} larger than {limit / 1048576:g} MiB is not read")
    return data


def read_text(path: str | Path, *, within: str | Path | None = None) -> str:
    """Read a card file within bounds; a missing or unreadable path (or one that is no regular
    file) is a clear error."""
    return decode_text(read_bytes(path, limit=MAX_CARD_BYTES, within=within, what="card"), source=str(path))


def _json_depth_ok(value: Any) -> bool:
    """Nesting of a decoded JSON value within :data:`MAX_JSON_DEPTH` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def load_json(text: str | bytes, *, source: str = "input") -> Any:
    """Decode JSON from a stranger: nesting bounded by :data:`MAX_JSON_DEPTH`, errors as
    :class:`ParseError` (never a ``RecursionError``)."""
    import json  # here: reading cards (the audit) needs no JSON

    try:
        value = json.loads(text)
    except RecursionError:
        raise InputTooLargeError(f"{source}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"{source}: not valid JSON ({exc})") from None
    if not _json_depth_ok(value):
        raise InputTooLargeError(f"{source}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def read_json(path: str | Path, *, limit: int = MAX_JSON_BYTES, within: str | Path | None = None) -> Any:
    """A JSON file (``config.json``, ``trainer_state.json``, a card JSON) within size and nesting
    bounds, read as :func:`read_bytes` reads (regular files only, links kept inside ``within``)."""
    return load_json(read_bytes(path, limit=limit, within=within, what="JSON file"), source=str(path))


# Atomic file writes: a reader sees the old file or the new one, never half of either.


def plain_file_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` gives a new file: ``0o666`` less the umask."""
    try:  # Linux shows the umask without changing it (changing it is not thread-safe)
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return 0o666 & ~current


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    An existing file's permission bits are kept; a new file gets :func:`plain_file_mode`. On any
    failure the original file is untouched.
    """
    import tempfile  # here, not at the top: reading cards (the audit) never needs it

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_symlink():
        raise UntrustedInputError(
            f"{target} is a symbolic link (to {os.readlink(target)}); cardsmith does not write through links "
            "(nothing was written)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o7777 if target.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CardsmithError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600: give the file the mode it had, else what a plain open(..., "w") gives.
        os.chmod(tmp, mode if mode is not None else plain_file_mode())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CardsmithError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text as UTF-8 atomically (line endings exactly as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


# Text from cards and file names on its way to a terminal or a JSON document.

#: C0 controls but tab and newline, DEL, C1 controls, lone surrogates (undecodable file-name bytes)
#: and the bidirectional overrides and isolates that reorder what a terminal shows.
UNPRINTABLE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
#: The ASCII characters among them: text of ASCII characters but these is printed as it is.
ASCII_UNPRINTABLE = frozenset(chr(c) for c in (*range(0x09), *range(0x0B, 0x20), 0x7F))


@functools.cache
def _unprintable_re() -> re.Pattern[str]:
    """Compiled on first use: most of what an audit prints is plain ASCII (a start-up cost saved)."""
    return re.compile(UNPRINTABLE)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character (but tab and newline), lone surrogate and bidi override
    written as a visible escape (``\\x1b``, ``\\xe9`` for an undecodable file-name byte, ``\\u202e``).

    What cardsmith prints comes partly from cards and file names that strangers wrote: an escape
    sequence could clear the lines that show an error. One pass, linear in the text.
    """
    if text.isascii() and ASCII_UNPRINTABLE.isdisjoint(text):
        return text
    return _unprintable_re().sub(lambda m: _escaped(m.group()), text)
