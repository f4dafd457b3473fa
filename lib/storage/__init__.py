"""MongoDB storage, split by collection family (bars, jobs, universe, analysis, alerts, sizes, bad data,
corporate actions, cross-section), all on one client.

`Storage` is the one object the rest of the code holds: it is every family's store on the same databases.
These modules are the only code that imports pymongo."""

from __future__ import annotations

from lib.storage.access import AccessStore
from lib.storage.ai import AiStore
from lib.storage.alerts import AlertsStore
from lib.storage.analysis import SCREENING, AnalysisStore, screening_id
from lib.storage.bad_data import BadDataStore, quarantine_id
from lib.storage.bars import BarsStore
from lib.storage.client import close_clients, get_client, naive_utc, reset_embedded_client
from lib.storage.columns import ColumnsStore
from lib.storage.corporate_actions import CorporateActionsStore
from lib.storage.cross_section import CrossSectionStore
from lib.storage.etf import EtfStore
from lib.storage.jobs import DONE_STATUSES, JobsStore
from lib.storage.picks import DAILY_PICKS, PicksStore
from lib.storage.sizes import CollectionSize, SizesStore
from lib.storage.universe import UniverseStore
from lib.storage.watermarks import WatermarksStore

__all__ = [
    "DAILY_PICKS", "CollectionSize", "DONE_STATUSES", "SCREENING", "Storage", "close_clients", "get_client",
    "naive_utc",
    "quarantine_id", "reset_embedded_client", "screening_id",
]


class Storage(
    BarsStore, JobsStore, UniverseStore, AnalysisStore, AlertsStore, SizesStore, EtfStore, PicksStore, AiStore,
    AccessStore, BadDataStore, CorporateActionsStore, CrossSectionStore, ColumnsStore, WatermarksStore,
):
    """The pipeline's databases: system_info, stock_data (one collection per ticker), stock_analyzed, us_etf."""

    def ensure_indexes(self) -> None:
        """Create every family's indexes (idempotent)."""
        self._write("indexes")
        self._universe_indexes()
        self._job_indexes()
        self._alert_indexes()
        self._etf_indexes()
        self._ai_indexes()
        self._picks_indexes()
        self._bad_data_indexes()
        self._corporate_actions_indexes()
        self._watermark_indexes()
