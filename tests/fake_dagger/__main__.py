"""`python -m fake_dagger ARGS` (what the `dagger` launcher next to this file runs)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    try:
        import graphql  # noqa: F401 - the one third-party dependency
    except ImportError:
        sys.stderr.write(
            f"fake dagger: graphql-core is not installed for {sys.executable}; set FAKE_DAGGER_PYTHON to a "
            "Python that has the project's test dependencies (pip install -e '.[test]').\n"
        )
        return 1
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
