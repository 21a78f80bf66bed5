"""The window process without OpenSSL: ~4.9 MB of resident memory it never needs (benchmarks/README.md).

Two stdlib imports map OpenSSL's libcrypto and libssl into every process that makes them: `hashlib` (through
`_hashlib`) and `asyncio` (its event loop imports `ssl` for TLS connections). The window uses hashlib for a few
short names (the single-instance socket, lease files) and asyncio for a loop that opens no TLS connection: the
Dagger sessions, and their TLS, are in the runner processes. So the window imports both with OpenSSL held back:

- `hashlib` (and `hmac`) then use Python's built-in implementations: the same digests (sha256 of the same bytes
  is the same name in every process), just not OpenSSL's faster code, which a few dozen bytes do not need;
- `asyncio` is imported with `ssl` unavailable, as on a Python built without it: its loop refuses `ssl=`
  arguments in this process.

Both are released afterwards: a later `import ssl` (the engine check's download of the Dagger CLI over HTTPS)
loads OpenSSL as usual, when it is needed.

Only the window's entry point calls this; `cchub` and the runners import both normally.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

_HELD = ("_hashlib", "ssl")
HASHING = ("hashlib", "hmac")   # hmac would import _hashlib on its own later
ASYNCIO = ("asyncio",)
# what hashlib falls back to without OpenSSL: an interpreter (or a frozen bundle) without them imports normally
_BUILT_IN_HASHES = ("_md5", "_sha1", "_sha3", "_blake2",
                    *(("_sha2",) if sys.version_info >= (3, 12) else ("_sha256", "_sha512")))


def import_without_openssl(modules: tuple[str, ...]) -> bool:
    """Import `modules` with OpenSSL held back (see the module's docstring). False, and nothing imported, when
    one of them or OpenSSL is already imported (then there is nothing to save), or when hashlib's built-in
    implementations are missing (hashlib would have no sha256 without OpenSSL)."""
    if any(name in sys.modules for name in (*modules, *_HELD)):
        return False
    if "hashlib" in modules and not all(_importable(name) for name in _BUILT_IN_HASHES):
        return False
    for name in _HELD:
        sys.modules[name] = None  # type: ignore[assignment]   # `import name` raises ImportError while held
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        for name in _HELD:   # released: what was imported keeps its fallback; a later import loads OpenSSL
            del sys.modules[name]
    return True


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
