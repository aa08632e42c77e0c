"""Pingan's own analysis of camera frames: faces and objects thrown from high floors."""
