"""One module per agent: normalize, classify (+locate), detect (+publish)."""
