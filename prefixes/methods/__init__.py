"""One module per method: the parameters it trains and how they start."""
