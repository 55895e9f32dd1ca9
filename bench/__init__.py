"""`make bench`: the portal under wrk at 1k, 100k and 1M incidents, against a minimal Flask baseline."""
