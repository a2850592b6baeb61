"""Use cases. Routes, CLI, preference pages and jobs all call these functions."""
