"""Feed ranking: features, embeddings, XGBoost heads, re-ranking, trending, a viewer simulator, evaluation.

Usable without the API, like `reels.media`: it imports no other reels package. Serving calls
`FeatureState.snapshot(...)`, `pair_features(...)`, a `Scorer` (`LearnedRanker` or, before any
model exists, `HeuristicScorer`) and `rerank(...)`; `reels eval` runs `evaluate(...)`.
"""

from reels.ranking.embeddings import Embeddings, MFConfig, fit_implicit_mf
from reels.ranking.evaluation import EvalConfig, EvalReport, evaluate, time_split
from reels.ranking.events import Item, LogFormatError, WatchEvent, read_events, read_items, write_events, write_items
from reels.ranking.features import FEATURE_NAMES, FeatureConfig, FeatureState, Snapshot, pair_features
from reels.ranking.index import ItemIndex, build_index
from reels.ranking.labels import DurationQuantiles, RelevanceRule
from reels.ranking.models import HEADS, HeuristicScorer, LearnedRanker, Scorer, ScoreWeights, TrainConfig
from reels.ranking.parquet import read_export
from reels.ranking.rerank import Candidate, RerankConfig, creator_discount, rerank, rerank_positions, topics_of
from reels.ranking.simulator import SimulatedLog, SimulatorConfig, simulate
from reels.ranking.table import EventTable, TableBuilder
from reels.ranking.training import RankerConfig, TrainedRanker, train_ranker
from reels.ranking.trending import Trending, TrendingConfig

__all__ = [
    "FEATURE_NAMES",
    "HEADS",
    "Candidate",
    "DurationQuantiles",
    "Embeddings",
    "EvalConfig",
    "EvalReport",
    "EventTable",
    "FeatureConfig",
    "FeatureState",
    "HeuristicScorer",
    "Item",
    "ItemIndex",
    "LearnedRanker",
    "LogFormatError",
    "MFConfig",
    "RankerConfig",
    "RelevanceRule",
    "RerankConfig",
    "ScoreWeights",
    "Scorer",
    "SimulatedLog",
    "SimulatorConfig",
    "Snapshot",
    "TableBuilder",
    "TrainConfig",
    "TrainedRanker",
    "Trending",
    "TrendingConfig",
    "WatchEvent",
    "build_index",
    "creator_discount",
    "evaluate",
    "fit_implicit_mf",
    "pair_features",
    "read_events",
    "read_export",
    "read_items",
    "rerank",
    "rerank_positions",
    "simulate",
    "time_split",
    "topics_of",
    "train_ranker",
    "write_events",
    "write_items",
]
