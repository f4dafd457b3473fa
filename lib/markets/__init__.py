"""The markets: one package per market (krx, us), each declaring its datasets in its `__init__.py` as
`DATASETS = (Dataset(...), ...)` and its settings in `settings.py`. This package holds no code: the registry of
datasets (lib/spine/registry.py) and the settings (lib/config.py) find the markets on its `__path__` by name, so
importing it imports no market and nothing above the base layer."""
