"""Data models: the input article and the result object, with their JSON Schemas."""
