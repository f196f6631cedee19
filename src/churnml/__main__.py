"""``python -m churnml`` and the ``churnml`` script: the command line of :mod:`churnml.cli`."""

import os
import sys

from churnml.stopping import command_line, handle_signals, stop_message


def main() -> None:
    """Console-script entry point: Ctrl-C and SIGTERM are churnml's before :mod:`churnml.cli` loads.

    Loading it (Typer, Rich: about 0.1 s) came before its own ``main`` installed the handlers: Ctrl-C
    there printed a KeyboardInterrupt traceback and ended the process by SIGINT, SIGTERM without a word."""
    handle_signals()
    command_line[:] = ["churnml", *sys.argv[1:]]
    try:
        from churnml.cli import main as run
    except KeyboardInterrupt as exc:
        if os.environ.get("CHURNML_DEBUG"):
            raise
        message, code = stop_message(exc)
        print(message, file=sys.stderr)
        sys.exit(code)
    run()


if __name__ == "__main__":
    main()
