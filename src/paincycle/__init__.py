"""PainCycle: the chronic-pain clinic's view of the pain-mood-sleep-withdrawal cycle."""

__version__ = "0.1.0"
