"""``python -m churnml``: the same command line as the ``churnml`` script."""

from churnml.cli import main

if __name__ == "__main__":
    main()
