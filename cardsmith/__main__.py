"""``python -m cardsmith``, and the ``cardsmith`` console script (:func:`console_main`).

Nothing is imported at this module's top: the console script pauses the cyclic garbage collector
before pydantic and the card models load (see :func:`cardsmith.cli.fast.console_main`).
"""

import sys


def console_main() -> None:
    """The ``cardsmith`` console script: :func:`cardsmith.cli.fast.console_main`, with the garbage
    collector paused from the first import on (the collector would otherwise run dozens of times
    while pydantic's machinery and the card models load, and find almost nothing to free)."""
    import gc

    gc.disable()
    from cardsmith.cli.fast import console_main as run

    run()


if __name__ == "__main__":
    from cardsmith.cli.fast import main

    sys.exit(main())
