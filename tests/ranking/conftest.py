import pytest

from reels.ranking import EventTable, SimulatedLog, SimulatorConfig, simulate

SMALL_WORLD = SimulatorConfig(users=120, reels=240, days=7, seed=7)


@pytest.fixture(scope="session")
def small_log() -> SimulatedLog:
    return simulate(SMALL_WORLD)


@pytest.fixture(scope="session")
def small_table(small_log: SimulatedLog) -> EventTable:
    return EventTable.build(small_log.events, small_log.items, small_log.follows)
