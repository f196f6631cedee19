"""The /score lookup behind BentoML adaptive batching, for `bench_api.py --variant batched` only.

Same library call as serving/service.py (:meth:`churnml.api.ScoringService.score`), but requests
are queued and dispatched in batches (up to 64 ids, waiting at most 5 ms). No auth middleware:
this measures what batching changes, nothing else.
"""

from __future__ import annotations

import bentoml

from churnml.api import ScoringService, ServiceSettings


@bentoml.service(name="churnml-batched", workers=1)
class BatchedChurnService:
    def __init__(self) -> None:
        self.scoring = ScoringService.load(ServiceSettings.from_env())

    @bentoml.api(route="/score", batchable=True, max_batch_size=64, max_latency_ms=5)
    def score(self, customer_ids: list[str]) -> list[dict]:
        return self.scoring.score(customer_ids)
