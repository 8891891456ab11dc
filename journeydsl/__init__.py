"""journeydsl: credit-card customer journeys as code."""

__version__ = "0.1.0"
