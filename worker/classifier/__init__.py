"""The pure core: article → sentences → sentence classifier → aggregated result. No Kafka, HTTP or files."""
