"""High-altitude throws (高空抛物) seen by facade cameras: background subtraction, blob
tracking and trajectory classification, with the floor estimated from a calibration."""
