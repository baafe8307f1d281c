"""``python -m cardsmith`` and the ``cardsmith`` console script (:func:`console_main`): the dispatcher.

:func:`main` tries the fast path (:func:`cardsmith.cli.fast.run_fast`: ``audit`` and ``hook run``
without click) and hands anything else to the click app (:func:`cardsmith.cli.app.main`, which owns
usage checks). The two entry points stand side by side below this module; neither imports the other.

Nothing is imported at this module's top: the console script pauses the cyclic garbage collector
before pydantic and the card models load.
"""

import sys


def _run(args: list[str], *, gc_paused: bool = False) -> tuple[int, bool]:
    """The exit code, and whether the fast path produced it. ``gc_paused``: the caller disabled the
    cyclic garbage collector for the fast path; it is enabled again for anything else."""
    from cardsmith.cli.fast import run_fast

    code = run_fast(args)
    if code is not None:
        return code, True
    if gc_paused:
        import gc

        gc.enable()
    from cardsmith.cli.app import main as cli_main

    return cli_main(args), False


def main(argv: list[str] | None = None) -> int:
    """The CLI (``python -m cardsmith``): the same behaviour and exit codes as :func:`cardsmith.cli.app.main`."""
    return _run(sys.argv[1:] if argv is None else list(argv))[0]


def console_main() -> None:
    """The ``cardsmith`` console script: :func:`main`, then exit.

    The garbage collector is paused from the first import on: it would otherwise run dozens of times
    while pydantic's machinery and the card models load, and find almost nothing to free (any
    command but the fast path's runs with it again). After a fast-path audit, whose output is
    flushed, the process ends with ``os._exit``: tearing down an interpreter that has loaded pydantic
    takes about as long as auditing a card, and an audit leaves nothing to clean up (no files,
    threads or atexit handlers of its own).
    """
    import gc

    gc.disable()
    code, fast = _run(sys.argv[1:], gc_paused=True)
    if fast:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - e.g. a closed pipe: let the normal exit report it
            sys.exit(code)
        import os

        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    sys.exit(main())
