"""Raw sources into normalised rows: sources, encodings, readers/ (one module per raw format),
normalisation and text cleaning."""
