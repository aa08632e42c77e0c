"""Pingan: real-time safety platform for residential communities."""

__version__ = "0.1.0"
