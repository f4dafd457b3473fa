"""MongoDB storage, split by collection family (bars, jobs, leases, universe, analysis, alerts, sizes, bad data,
corporate actions, cross-section), all on one client.

`Storage` holds one small repository per family (`storage.bars`, `storage.jobs`, `storage.etf`, ...), all on
the same client, databases and write hook; code uses the families it needs, and no object has every method.
These modules are the only code that imports pymongo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lib.storage.access import AccessStore
from lib.storage.ai import AiStore
from lib.storage.alerts import AlertsStore
from lib.storage.analysis import SCREENING, AnalysisStore, screening_id
from lib.storage.bad_data import BadDataStore, quarantine_id
from lib.storage.bars import BarsStore
from lib.storage.client import StoreBase, close_clients, get_client, naive_utc, reset_embedded_client
from lib.storage.columns import ColumnsStore
from lib.storage.corp_codes import CorpCodesStore
from lib.storage.corporate_actions import CorporateActionsStore
from lib.storage.cross_section import CrossSectionStore
from lib.storage.etf import EtfStore
from lib.storage.jobs import DONE_STATUSES, JobsStore
from lib.storage.leases import LeasesStore
from lib.storage.picks import DAILY_PICKS, PicksStore
from lib.storage.predictions import PredictionsStore
from lib.storage.sizes import CollectionSize, SizesStore
from lib.storage.universe import UniverseStore
from lib.storage.watermarks import WatermarksStore

__all__ = [
    "DAILY_PICKS", "CollectionSize", "DONE_STATUSES", "SCREENING", "Storage", "close_clients", "get_client",
    "naive_utc",
    "quarantine_id", "reset_embedded_client", "screening_id",
]


class Storage(StoreBase):
    """The pipeline's databases (system_info, stock_data, stock_analyzed, us_etf, datasets) on one client, as one
    repository per collection family. Each family shares the client, the prefix and the write hook (`on_write`,
    set on this object, sees every family's writes: the tests' kill-at-any-write seam)."""

    def __init__(
        self,
        client: Any,
        prefix: str = "",
        on_write: Callable[[str], None] | None = None,
        namespace: str = "",
        root: StoreBase | None = None,
    ) -> None:
        super().__init__(client, prefix, on_write, root=root, namespace=namespace)
        root = root or self
        self.bars = BarsStore(client, prefix, root=root, namespace=namespace)
        self.jobs = JobsStore(client, prefix, root=root, namespace=namespace)
        self.leases = LeasesStore(client, prefix, root=root, namespace=namespace)  # shared: system_info.leases
        self.universe = UniverseStore(client, prefix, root=root, namespace=namespace)
        self.analysis = AnalysisStore(client, prefix, root=root, namespace=namespace)
        self.columns = ColumnsStore(client, prefix, root=root, namespace=namespace)
        self.cross_section = CrossSectionStore(client, prefix, root=root, namespace=namespace)
        self.corporate_actions = CorporateActionsStore(client, prefix, root=root, namespace=namespace)
        self.picks = PicksStore(client, prefix, root=root, namespace=namespace)
        self.bad_data = BadDataStore(client, prefix, root=root, namespace=namespace)
        self.etf = EtfStore(client, prefix, root=root, namespace=namespace)
        self.watermarks = WatermarksStore(client, prefix, root=root, namespace=namespace)
        self.corp_codes = CorpCodesStore(client, prefix, root=root, namespace=namespace)
        self.alerts = AlertsStore(client, prefix, root=root, namespace=namespace)
        self.ai = AiStore(client, prefix, root=root, namespace=namespace)
        self.predictions = PredictionsStore(client, prefix, root=root, namespace=namespace)
        self.access = AccessStore(client, prefix, root=root, namespace=namespace)
        self.sizes = SizesStore(client, prefix, root=root, namespace=namespace)

    def scoped(self, namespace: str) -> Storage:
        """The same store with a market's own collections under `namespace` (a Dataset's `namespace`: "" for the
        first market, "us_" for US stocks): its bars, analysis, universe, picks, track records and held bars are
        the market's, while job records, locks, alerts, the ETF pipeline, watermark datasets and the AI's results
        stay shared. Writes go through this store's write hook (`on_write` of the root)."""
        if namespace == self.namespace:
            return self
        return Storage(self.client, self.prefix, namespace=namespace, root=self._root)

    def ensure_indexes(self) -> None:
        """Create every family's indexes (idempotent)."""
        self._write("indexes")
        self.universe._universe_indexes()
        self.jobs._job_indexes()
        self.leases._leases_indexes()
        self.alerts._alert_indexes()
        self.etf._etf_indexes()
        self.ai._ai_indexes()
        self.predictions._predictions_indexes()
        self.picks._picks_indexes()
        self.bad_data._bad_data_indexes()
        self.corporate_actions._corporate_actions_indexes()
        self.watermarks._watermark_indexes()
