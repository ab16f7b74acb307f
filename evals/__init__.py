"""Measure `rag` from the side: eval sets, metrics, calibration, benchmarks, the regression gate."""
