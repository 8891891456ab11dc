"""Simulation: the production engine on a virtual clock, over recorded events or a synthetic
population driven by a behaviour model, with reports and scenario tests.

    from journeydsl.simulate import Simulation, read_events

    sim = Simulation([journey], profiles, start=start)
    sim.add_events(events)
    result = sim.run()
    result.to_json()          # the `journeydsl simulate --format json` contract

Modules: :mod:`~journeydsl.simulate.driver` (the virtual-clock loop and the result),
:mod:`~journeydsl.simulate.inputs` (event and profile files), :mod:`~journeydsl.simulate.behaviour`
(the behaviour model), :mod:`~journeydsl.simulate.population` (synthetic customers and their
channel doubles), :mod:`~journeydsl.simulate.report` (text report, trace, explain),
:mod:`~journeydsl.simulate.scenarios` (``journeydsl test``),
:mod:`~journeydsl.simulate.parallel` (runs split over processes and chunks of customers,
``--workers``), :mod:`~journeydsl.simulate.tally` (mergeable counts),
:mod:`~journeydsl.simulate.compare` (``--compare``). The commands are in :mod:`journeydsl.cli`
(:mod:`~journeydsl.cli.simulate`, :mod:`~journeydsl.cli.scenarios`). Names are imported on first
use, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Simulation": "journeydsl.simulate.driver",
    "SimulationResult": "journeydsl.simulate.driver",
    "SimulationStuckError": "journeydsl.simulate.driver",
    "read_events": "journeydsl.simulate.inputs",
    "read_profiles": "journeydsl.simulate.inputs",
    "default_profile": "journeydsl.simulate.inputs",
    "Behaviour": "journeydsl.simulate.behaviour",
    "load_behaviour": "journeydsl.simulate.behaviour",
    "Population": "journeydsl.simulate.population",
    "GeneralBehaviour": "journeydsl.simulate.behaviour_general",
    "GeneralPopulation": "journeydsl.simulate.population_general",
    "population_for": "journeydsl.simulate.population_general",
    "InputError": "journeydsl.yamlfile",
    "run_file": "journeydsl.simulate.scenarios",
}

__all__ = [
    "Behaviour",
    "GeneralBehaviour",
    "GeneralPopulation",
    "InputError",
    "Population",
    "Simulation",
    "SimulationResult",
    "SimulationStuckError",
    "default_profile",
    "load_behaviour",
    "population_for",
    "read_events",
    "read_profiles",
    "run_file",
]

if TYPE_CHECKING:
    from journeydsl.simulate.behaviour import Behaviour, load_behaviour
    from journeydsl.simulate.behaviour_general import GeneralBehaviour
    from journeydsl.simulate.driver import Simulation, SimulationResult, SimulationStuckError
    from journeydsl.simulate.inputs import default_profile, read_events, read_profiles
    from journeydsl.simulate.population import Population
    from journeydsl.simulate.population_general import GeneralPopulation, population_for
    from journeydsl.simulate.scenarios import run_file
    from journeydsl.yamlfile import InputError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeydsl.simulate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
