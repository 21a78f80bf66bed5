"""The window imports hashlib and asyncio without OpenSSL (cchub_desktop/openssl_free.py): the same digests, an
asyncio loop that runs, and OpenSSL still there for whoever imports ssl later. Each check runs in a fresh
interpreter, since the point is what a process has imported."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

CHECK = r"""
import json, sys
from cchub_desktop.openssl_free import ASYNCIO, HASHING, import_without_openssl

def mapped():
    try:
        with open("/proc/self/maps") as maps:
            return sorted({l.split()[-1].rsplit("/", 1)[-1] for l in maps if len(l.split()) >= 6
                           and l.split()[-1].rsplit("/", 1)[-1].startswith(("libcrypto", "libssl"))})
    except OSError:
        return None

first = import_without_openssl(HASHING)
again = import_without_openssl(HASHING)
asyncio_done = import_without_openssl(ASYNCIO)
import asyncio, hashlib, hmac
report = {"first": first, "again": again, "asyncio": asyncio_done,
          "held_now": [m for m in ("ssl", "_hashlib") if m in sys.modules],
          "sha256": hashlib.sha256(b"cchub").hexdigest(), "hmac": hmac.new(b"k", b"m", "sha256").hexdigest(),
          "loop": asyncio.run(asyncio.sleep(0, result="ran")), "mapped_before": mapped()}
import ssl
report["ssl_after"] = ssl.OPENSSL_VERSION.startswith("OpenSSL")
report["mapped_after"] = mapped()
print(json.dumps(report))
"""


def run_check() -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_hashing_and_asyncio_work_without_openssl_and_it_loads_when_asked_for() -> None:
    report = run_check()
    assert (report["first"], report["again"], report["asyncio"]) == (True, False, True)   # nothing to do twice
    assert report["held_now"] == []   # released: nothing stays blocked
    # the built-in implementations give what OpenSSL gives (lease and socket names agree across processes)
    assert report["sha256"] == hashlib.sha256(b"cchub").hexdigest()
    import hmac

    assert report["hmac"] == hmac.new(b"k", b"m", "sha256").hexdigest()
    assert report["loop"] == "ran"
    assert report["ssl_after"] is True   # a later `import ssl` (HTTPS downloads) loads OpenSSL as usual


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="what is mapped is read from /proc on Linux")
def test_no_openssl_library_is_mapped_until_ssl_is_imported() -> None:
    import ssl

    assert ssl.OPENSSL_VERSION
    with open("/proc/self/maps", encoding="utf-8") as maps:   # this interpreter, with ssl imported
        linked = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "/libssl" in line or "/libcrypto" in line}
    report = run_check()
    assert report["mapped_before"] == []
    assert report["mapped_after"] == sorted(linked)   # the same libraries as any process that imports ssl


def test_without_built_in_hashes_nothing_is_held_back() -> None:
    """An interpreter or a frozen bundle without hashlib's own sha256 imports hashlib with OpenSSL, as usual."""
    hide = (
        "import importlib.abc, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('_sha256', '_sha2'):\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from cchub_desktop.openssl_free import HASHING, import_without_openssl\n"
        "done = import_without_openssl(HASHING)\n"
        "import hashlib\n"
        "print(done, '_hashlib' in sys.modules, hashlib.sha256(b'cchub').hexdigest())\n"
    )
    proc = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["False", "True", hashlib.sha256(b"cchub").hexdigest()]
    assert "Traceback" not in proc.stderr and "was not found" not in proc.stderr
