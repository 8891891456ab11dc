"""The former home of :mod:`journeydsl.yamlfile` (YAML files read with positions, and
:class:`~journeydsl.yamlfile.InputError`); kept so that ``from journeydsl.simulate.yamlfile import
InputError`` goes on working."""

from journeydsl.yamlfile import FileError, InputError, YamlDocument, load_document, validate

__all__ = ["FileError", "InputError", "YamlDocument", "load_document", "validate"]
