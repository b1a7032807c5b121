"""crawler: link-health and metadata crawler for a catalogue of talks."""

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/ConstantPark/DL_Compiler"
