"""The runtime: the Engine and the protocols a host implements."""
