"""churnml: churn and customer-value prediction with point-in-time features.

The library is organised by stage (see ``docs/ARCHITECTURE.md``); the CLI lives in
``churnml.cli`` and the HTTP service in ``serving/``.
"""

__version__ = "0.1.0"
