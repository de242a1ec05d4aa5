"""spabench: the service bench that tests, diagnoses and documents spa control boxes."""

__version__ = "0.1.0"
